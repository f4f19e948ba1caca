"""A head start (transfer learning): the spec field round-trips and is bounded, the weight
store refuses what is gone or damaged, what is copied / adapted / fresh / frozen is as
planned, frozen layers stay bit-identical through training, and the digits CNN's conv
layers on 10 shapes per class are compared with scratch (both accuracies printed)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from dlviz.build import build
from dlviz.errors import UserError
from dlviz.spec import HeadStart, LayerSpec as L, NetSpec, SpecError
from dlviz.train import head_start as hs
from dlviz.train.config import TrainConfig
from dlviz.train.trainer import Trainer

DIGEST = "ab" * 32


@pytest.fixture(autouse=True)
def store(request, tmp_path, monkeypatch):
    # a private store, except for the page test: its runs train in worker processes,
    # which read the default store as the server's workers do
    if "page" not in request.node.name:
        monkeypatch.setattr(hs, "STORE_BASE", str(tmp_path / "store"))
    return tmp_path / "store"


def mlp(outputs=2, batchnorm=False) -> NetSpec:
    layers = [L("dense", units=8, activation="tanh")] + ([L("batchnorm")] if batchnorm else []) + \
        [L("dense", units=6, activation="relu")]
    return NetSpec((2,), outputs, layers, name="mlp")


# -- the spec field ----------------------------------------------------------------------

def test_head_start_round_trips_through_json_and_the_link():
    spec = replace(mlp(), head_start=HeadStart("run:Ab3dE9", DIGEST, ("dense1",)))
    assert NetSpec.from_json(spec.to_json()) == spec
    assert NetSpec.from_url(spec.to_url()) == spec
    plain = mlp()
    assert "head_start" not in plain.to_dict()            # older readers see no change
    assert NetSpec.from_url(plain.to_url()).head_start is None
    assert spec != plain                                   # a new setup: a new run
    assert spec.head_start.label == "head start from run Ab3d, frozen dense1"


@pytest.mark.parametrize("bad, says", [
    ("run:x", "must be an object"),
    ({"source": "http:evil", "weights": DIGEST}, "source must be run:ID"),
    ({"source": "run:", "weights": DIGEST}, "source must be run:ID"),
    ({"source": "run:" + "x" * 300, "weights": DIGEST}, "at most 200"),
    ({"source": "run:a", "weights": "../../etc/passwd"}, "SHA-256"),
    ({"source": "run:a", "weights": DIGEST.upper()}, "SHA-256"),
    ({"source": "run:a", "weights": DIGEST, "frozen": "dense1"}, "must be a list"),
    ({"source": "run:a", "weights": DIGEST, "frozen": ["dense1"] * 100}, "at most"),
    ({"source": "run:a", "weights": DIGEST, "frozen": ["Dense 1"]}, "like conv1"),
    ({"source": "run:a", "weights": DIGEST, "frozen": ["output"]}, "cannot freeze the output"),
    ({"source": "run:a", "weights": DIGEST, "frozen": ["dense1", "dense1"]}, "twice"),
    ({"source": "run:a", "weights": DIGEST, "extra": 1}, "unknown field"),
])
def test_a_bad_head_start_gets_one_message(bad, says):
    d = {**mlp().to_dict(), "head_start": bad}
    with pytest.raises(SpecError) as e:
        NetSpec.from_dict(d)
    assert says in str(e.value) and "\n" not in str(e.value)


# -- the store -----------------------------------------------------------------------------

def test_the_store_keeps_weights_by_digest_and_refuses_missing_or_damaged(store):
    w = build(mlp(), seed=1).model.state_dict()
    digest = hs.put_weights(w)
    assert hs.put_weights(w) == digest and len(list(store.iterdir())) == 1     # stored once
    back = hs.load_weights(digest)
    assert all(torch.equal(back[k], w[k]) for k in w)
    with pytest.raises(UserError, match="no longer on this server"):
        hs.load_weights("cd" * 32, "run:Ab3d")
    path = store / f"{digest}.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(UserError, match="damaged"):
        hs.load_weights(digest)
    with pytest.raises(UserError, match="SHA-256"):
        hs.load_weights("../x")


def test_the_store_refuses_what_a_bundle_refuses(tmp_path, monkeypatch):
    # one reader for both: too many tensors, or bytes that are not safetensors, get the same line
    from dlviz import bundle
    from dlviz.train.history import MAX_TENSORS, weights_bytes
    too_many = {f"t{i}": torch.zeros(1) for i in range(MAX_TENSORS + 1)}
    digest = hs.put_weights(too_many)
    with pytest.raises(UserError, match=f"{MAX_TENSORS + 1} tensors, over the limit of {MAX_TENSORS}"):
        hs.load_weights(digest)
    spec = NetSpec.from_dict({"input_shape": [2], "outputs": 2, "layers": []})
    with pytest.raises(UserError, match=f"{MAX_TENSORS + 1} tensors, over the limit of {MAX_TENSORS}"):
        bundle.bundle_from_bytes(json.dumps({"spec": spec.to_dict()}).encode(), weights_bytes(too_many))


# -- what is copied ----------------------------------------------------------------------

def test_new_classes_get_a_fresh_output_layer_and_the_rest_is_copied():
    source = build(mlp(outputs=2), seed=1).model.state_dict()
    r = hs.plan_head_start(mlp(outputs=5), source, ("dense1",), "run:Ab3dE9")
    assert r.copied == ("dense1", "dense2") and r.frozen == ("dense1",)
    assert r.fresh == (("output", "weight is 2x6 there, 5x6 here"),)
    assert r.tensors == 4
    assert r.text() == ("copied 4 tensors (dense1, dense2) from run Ab3d · fresh: output (weight is "
                        "2x6 there, 5x6 here) · frozen: dense1")


def test_a_grey_cnn_starts_an_rgb_one_and_layers_after_a_fresh_one_stay_fresh():
    from dlviz.presets import preset_spec
    grey = build(preset_spec("lenet", (1, 28, 28), 10), seed=0)
    rgb_spec = preset_spec("lenet", (3, 32, 32), 8)
    head = HeadStart("preset:lenet@digits", DIGEST, ("conv1", "conv2"))
    rgb = build(rgb_spec, seed=0)
    r = hs.apply_head_start(rgb, head, grey.model.state_dict())
    assert r.copied == ("conv1", "conv2") and r.adapted == ("conv1 (1 to 3 input channels)",)
    assert [m for m, _ in r.fresh] == ["dense1", "dense2", "output"]
    assert r.fresh[1] == ("dense2", "after dense1")        # 120x84 fits, but its inputs are new
    w1, w = grey.model.conv1.weight, rgb.model.conv1.weight
    assert torch.equal(w, w1.repeat(1, 3, 1, 1) / 3)       # a grey image gets the same response
    x = torch.rand(1, 1, 32, 32)
    assert torch.allclose(torch.nn.functional.conv2d(x.expand(1, 3, 32, 32), w),
                          torch.nn.functional.conv2d(x, w1), atol=1e-6)
    assert not any(p.requires_grad for p in rgb.model.conv2.parameters())
    assert all(p.requires_grad for p in rgb.model.dense2.parameters())


def test_what_cannot_be_frozen_or_copied_is_refused_with_one_message():
    source = build(mlp(), seed=1).model.state_dict()
    for frozen, says in ((("dense9",), "no layer dense9"), (("dense1_tanh",), "no weights to freeze")):
        with pytest.raises(UserError, match=says):
            hs.plan_head_start(mlp(), source, frozen)
    other = NetSpec((2,), 2, [L("dense", units=3, activation="tanh")])
    with pytest.raises(UserError, match="frozen.*random|not copied"):
        hs.plan_head_start(NetSpec((2,), 2, [L("dense", units=8, activation="tanh"),
                                            L("dense", units=7)]), source, ("dense2",))
    with pytest.raises(UserError, match="nothing of the head start fits"):
        hs.plan_head_start(other, source)


# -- training -------------------------------------------------------------------------------

@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_frozen_layers_are_bit_identical_after_fine_tuning(ring, optimizer):
    source_net = build(mlp(batchnorm=True), seed=7)
    with torch.no_grad():        # batch-norm statistics a trained run would have
        source_net.model.bn1.running_mean.uniform_(-1, 1)
        source_net.model.bn1.running_var.uniform_(0.5, 2)
    source = {k: v.clone() for k, v in source_net.model.state_dict().items()}
    head = HeadStart("run:Ab3dE9", hs.put_weights(source), ("dense1", "bn1"))
    spec = replace(mlp(outputs=2, batchnorm=True), head_start=head)
    # momentum, weight decay and an L1 penalty: each would move a parameter the optimizer holds
    config = TrainConfig(optimizer=optimizer, lr=0.05, momentum=0.9, weight_decay=0.01, l1=0.001,
                         batch_size=32, epochs=3, seed=3)
    t = Trainer(spec, ring, config)
    t.start()
    assert t.join(60) and t.status == "finished"
    after = t.snapshot().weights
    for k in ("dense1.weight", "dense1.bias", "bn1.weight", "bn1.bias",
              "bn1.running_mean", "bn1.running_var"):
        assert torch.equal(after[k], source[k]), k
    assert not torch.equal(after["dense2.weight"], source["dense2.weight"])    # copied, and trained
    assert t.snapshot(0).weights["dense2.weight"].equal(source["dense2.weight"])
    assert t._loop.head_start.frozen == ("dense1", "bn1")
    t.reset()                                     # starts over from the head start again
    assert torch.equal(t.snapshot().weights["dense2.weight"], source["dense2.weight"])


def test_a_head_start_whose_weights_are_gone_is_refused_at_the_start(ring):
    spec = replace(mlp(), head_start=HeadStart("run:Ab3dE9", "cd" * 32))
    with pytest.raises(UserError, match="run:Ab3dE9.*no longer on this server"):
        Trainer(spec, ring, TrainConfig(epochs=1))


def test_digits_cnn_conv_layers_on_ten_shapes_per_class_vs_scratch(capsys):
    """The full comparison (more digits, more seeds) is bench/head_start.py; this is its
    small version. Which one wins is printed, not asserted: both are measured."""
    from bench.head_start import compare, pretrained_digits
    weights, digits_acc = pretrained_digits(samples=1500, epochs=1)
    r = compare(weights, per_class=10, seed=0, epochs=30, shapes_samples=1000, test_n=200)
    assert r["train_images"] == 80 and r["test_images"] == 200
    assert "adapted: conv1 (1 to 3 input channels)" in r["report"]
    assert "frozen: conv1, conv2" in r["report"]
    for name in ("head_start", "scratch"):
        assert 0.0 <= r[name] <= 1.0
    with capsys.disabled():
        print(f"\n  digits CNN {100 * digits_acc:.1f}%; 10 shapes per class: head start "
              f"{100 * r['head_start']:.1f}%, scratch {100 * r['scratch']:.1f}% ({r['test_images']} test)")


# -- the pages ------------------------------------------------------------------------------

def test_train_page_starts_from_a_finished_run_and_compare_labels_both():
    from tests.conftest import wait_for
    from tests.test_pages import no_exceptions
    from tests.test_pages_inside import trained_app

    from dlviz.ui.head_start_views import FROM_RUN
    from dlviz.ui.state import registry
    at = trained_app("lenet", epochs=1)
    source_id = at.session_state["dlviz_run"]
    at.switch_page("app_pages/train.py").run()
    at.segmented_control(key="t_head_from").set_value(FROM_RUN).run()
    no_exceptions(at)
    assert any("copied 10 tensors (conv1, conv2, dense1, dense2, output)" in c.value for c in at.caption)
    at.multiselect(key="t_head_frozen").set_value(["conv1", "conv2"]).run()
    at.button(key="t_head_use").click().run()
    no_exceptions(at)
    assert any("Head start from run" in s.value and "frozen: conv1, conv2" in s.value for s in at.success)
    at.button(key="t_start").click().run()
    head_id = at.session_state["dlviz_run"]
    assert head_id != source_id
    assert wait_for(lambda: registry().get(head_id).handle.status in ("finished", "error"), 120)
    head_run = registry().get(head_id)
    assert head_run.handle.status == "finished", head_run.handle.state().message
    assert head_run.spec.head_start.source == f"run:{source_id}"
    assert head_run.spec.head_start.frozen == ("conv1", "conv2")
    src_w = registry().get(source_id).handle.snapshot().weights
    assert torch.equal(head_run.handle.snapshot().weights["conv2.weight"], src_w["conv2.weight"])
    at.button(key="t_head_clear").click().run()
    at.button(key="t_start").click().run()
    scratch_id = at.session_state["dlviz_run"]
    assert registry().get(scratch_id).spec.head_start is None
    at.switch_page("app_pages/compare.py").run()
    no_exceptions(at)
    options = list(at.selectbox(key="cmp_a").options)           # the labels, as shown
    assert any("head start from run" in o and "frozen conv1, conv2" in o for o in options), options
    assert any("from scratch" in o for o in options), options


def test_a_link_whose_head_start_weights_are_gone_says_so_on_the_train_page():
    from tests.test_pages import app, no_exceptions, workspace_for
    ws = workspace_for("playground")
    ws = replace(ws, spec=replace(ws.spec, head_start=HeadStart("run:Ab3dE9", "cd" * 32, ("dense1",))))
    at = app(ws)
    at.run()
    at.switch_page("app_pages/train.py").run()
    no_exceptions(at)
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "run:Ab3dE9" in errors[0] and "no longer on this server" in errors[0], errors
    at.button(key="t_head_clear").click().run()            # the way out: train from scratch
    no_exceptions(at)
    assert not at.error
