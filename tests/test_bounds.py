"""Every value from a link, a spec file, a bundle or a CLI flag is typed and bounded
before anything is allocated: each mistake is one UserError line naming the field."""

import json
import math
import os
import subprocess
import sys

import pytest

from dlviz.bundle import bundle_from_bytes, dataset_info, weights_bytes
from dlviz.build import build
from dlviz.data import DATASETS, DatasetParams, load_dataset
from dlviz.data.registry import MAX_SAMPLES_2D, MAX_SEED, check_params, max_samples
from dlviz.errors import UserError
from dlviz.presets import PRESETS, preset_spec
from dlviz.spec import INT_LIMITS, MAX_DROPOUT, MAX_LAYERS, LayerSpec, NetSpec, SpecError, analyse
from dlviz.spec_link import MAX_JSON_DEPTH, decode_url_json, encode_url_json
from dlviz.train.config import TrainConfig
from dlviz.workspace import Workspace, default_workspace

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAN, INF = float("nan"), float("inf")


@pytest.fixture
def no_build(monkeypatch):
    """A refusal must come before any dataset is built: building here fails the test
    (instead of allocating what the bad value asks for)."""
    import dlviz.data.registry as registry

    def refuse(*args):
        raise AssertionError(f"a dataset was built for {args[:2]} before the settings were checked")
    monkeypatch.setattr(registry, "_cached", refuse)
    monkeypatch.setattr(registry, "_cached_path", refuse)


def one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg and msg, msg
    return msg


# -- dataset settings: load_dataset refuses them before building anything ------------------

BAD_PARAMS = [
    ("n_samples", "100"), ("n_samples", 500.0), ("n_samples", True), ("n_samples", 9),
    ("n_samples", MAX_SAMPLES_2D + 1), ("n_samples", 1_000_000_000),
    pytest.param("n_samples", 10**5000, id="n_samples-5001-digits"),
    ("noise", "0.5"), ("noise", NAN), ("noise", INF), ("noise", -0.1), ("noise", 1.5), ("noise", True),
    ("test_fraction", 0), ("test_fraction", 1), ("test_fraction", 1.5), ("test_fraction", NAN),
    ("test_fraction", "0.2"), ("test_fraction", True),
    ("seed", -1), ("seed", MAX_SEED + 1), ("seed", 10**23), ("seed", 1.0), ("seed", "3"), ("seed", True),
    ("features", 5), ("features", "x1"), ("features", ("x1", 3)), ("features", ("x1", "x9")),
    ("features", ()), ("features", ("x1", "x1")), ("features", ("x1",) * 100),
    ("image_size", 2), ("image_size", 513), ("image_size", 32.0), ("image_size", "32"),
    ("image_size", True),
]


@pytest.mark.parametrize("field, value", BAD_PARAMS)
def test_load_dataset_refuses_each_bad_setting_by_name(no_build, field, value):
    with pytest.raises(UserError) as e:
        load_dataset("circle", DatasetParams(**{field: value}))
    assert f"dataset setting '{field}'" in one_line(e)


@pytest.mark.parametrize("key, limit", [("circle", MAX_SAMPLES_2D), ("plane", MAX_SAMPLES_2D),
                                        ("digits", 60_000), ("shapes", max_samples("shapes")),
                                        ("folder:/nowhere", 60_000), ("idx:/nowhere", 60_000)])
def test_sample_limit_per_dataset_kind(no_build, key, limit):
    with pytest.raises(UserError, match=f"over the limit of {limit:,}"):
        load_dataset(key, DatasetParams(n_samples=limit + 1))
    check_params(DatasetParams(n_samples=limit), key)          # the limit itself is fine


def test_sample_limits_cover_what_the_build_page_and_the_datasets_offer():
    for key, entry in DATASETS.items():
        ui_max = 2000 if entry.input_shape == (2,) else 20_000    # app_pages/build.py's sliders
        assert max_samples(key) >= max(ui_max, entry.default_samples), key
    # an image set's limit keeps its float32 inputs to a bounded size
    assert max_samples("shapes") * 4 * 3 * 32 * 32 <= 512 * 2**20


# -- training settings ----------------------------------------------------------------------

BAD_TRAIN = [
    ("epochs", 1.5), ("epochs", "2"), ("epochs", True), ("epochs", None), ("epochs", 0), ("epochs", 100_001),
    ("lr", NAN), ("lr", INF), ("lr", "0.1"), ("lr", True), ("lr", 0), ("lr", 1e-6), ("lr", 11),
    ("lr", 10**400), ("momentum", 1.0), ("momentum", -0.1), ("momentum", NAN),
    ("batch_size", 0), ("batch_size", 4097), ("batch_size", 32.0),
    ("weight_decay", -1e-3), ("weight_decay", 2.0), ("weight_decay", NAN), ("l1", -1), ("l1", 1.5),
    ("seed", -1), ("seed", 2**31), ("seed", 10**23), ("seed", 1.5),
    ("eval_every", -1), ("eval_every", 10**6 + 1), ("health_every", 10**9), ("snapshot_every", 2.0),
    ("max_snapshots", 1), ("max_snapshots", 501), ("max_snapshots", 10**9), ("max_snapshots", True),
    ("optimizer", ["adam"]), ("optimizer", 5), ("optimizer", "lbfgs"),
    ("schedule", 3), ("schedule", "linear"),
    ("device", 5), ("device", "tpu"), ("device", "cuda:abc"), ("device", "auto:0"),
]


@pytest.mark.parametrize("field, value", BAD_TRAIN)
def test_training_settings_are_strict_and_bounded(field, value):
    with pytest.raises(UserError) as e:
        TrainConfig.from_dict({field: value})
    assert field in one_line(e)


def test_no_silent_casting():
    with pytest.raises(UserError, match="training setting 'epochs' must be a whole number, got 1.5"):
        TrainConfig.from_dict({"epochs": 1.5})
    cfg = TrainConfig.from_dict({"lr": 1, "seed": MAX_SEED, "max_snapshots": 500})
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float) and cfg.seed == MAX_SEED
    with pytest.raises(UserError, match="'seed'"):               # built in code, then validated
        TrainConfig(seed=10**23).validate()


@pytest.mark.parametrize("value", [[1], 5, "epochs=3", None])
def test_training_settings_must_be_an_object(value):
    with pytest.raises(UserError, match="training settings must be an object"):
        TrainConfig.from_dict(value)


def test_one_seed_range_for_data_and_training():
    from dlviz.train.config import LIMITS
    assert LIMITS["seed"][:2] == (0, MAX_SEED) == (0, 2**31 - 1)      # the Train page's seed box


def test_valid_training_settings_round_trip():
    assert TrainConfig.from_dict(TrainConfig().to_dict()) == TrainConfig()
    for p in PRESETS.values():
        cfg = TrainConfig.from_dict(p.train)
        assert TrainConfig.from_dict(cfg.to_dict()) == cfg


# -- network specs ----------------------------------------------------------------------------

def spec_dict(*layers, **fields) -> dict:
    return {"input_shape": [1, 8, 8], "outputs": 2, "layers": list(layers), **fields}


# (the bad layer, placed second; what the message must start with)
BAD_LAYERS = [
    ({"kind": "maxpool", "stride": "2"}, "layer 2 maxpool: stride must be a whole number, got '2'"),
    ({"kind": "maxpool", "stride": 0.5}, "layer 2 maxpool: stride must be a whole number, got 0.5"),
    ({"kind": "avgpool", "stride": 5}, "layer 2 avgpool: stride 5 is over the limit of 4"),
    ({"kind": "maxpool", "kernel": 0}, "layer 2 maxpool: kernel must be a whole number of at least 1"),
    ({"kind": "conv2d", "padding": True}, "layer 2 conv2d: padding must be a whole number, got True"),
    ({"kind": "conv2d", "padding": 6}, "layer 2 conv2d: padding 6 is over the limit of 5"),
    ({"kind": "conv2d", "padding": -1}, "layer 2 conv2d: padding must be a whole number of at least 0"),
    ({"kind": "conv2d", "kernel": 12}, "layer 2 conv2d: kernel 12 is over the limit of 11"),
    ({"kind": "conv2d", "stride": 0}, "layer 2 conv2d: stride must be a whole number of at least 1"),
    ({"kind": "conv2d", "channels": 257}, "layer 2 conv2d: channels 257 is over the limit of 256"),
    ({"kind": "conv2d", "channels": "8"}, "layer 2 conv2d: channels must be a whole number"),
    ({"kind": "dense", "units": 100_000}, "layer 2 dense: units 100,000 is over the limit of 1,024"),
    ({"kind": "dense", "units": 10**300}, "layer 2 dense: units a 301-digit number is over the limit"),
    ({"kind": "dense", "units": 8.0}, "layer 2 dense: units must be a whole number, got 8.0"),
    ({"kind": "dense", "units": None}, "layer 2 dense: units must be a whole number, got None"),
    ({"kind": "dense", "activation": ["relu"]}, "layer 2 dense: unknown activation ['relu']"),
    ({"kind": "dense", "activation": 3}, "layer 2 dense: unknown activation 3"),
    ({"kind": "activation", "activation": "swish"}, "layer 2 activation: unknown activation 'swish'"),
    ({"kind": ["dense"]}, "layer 2 ['dense']: unknown layer kind"),
    ({"kind": 3}, "layer 2 3: unknown layer kind"),
    ({"kind": None}, "layer 2 None: unknown layer kind"),
    ({"kind": "dropout", "p": MAX_DROPOUT + 0.01}, "layer 2 dropout: p (the dropout rate) must be"),
    ({"kind": "dropout", "p": NAN}, "layer 2 dropout: p (the dropout rate) must be"),
    ({"kind": "dropout", "p": "0.5"}, "layer 2 dropout: p (the dropout rate) must be"),
    ({"kind": "dropout", "p": True}, "layer 2 dropout: p (the dropout rate) must be"),
    ({"kind": "dropout", "channelwise": "yes"}, "layer 2 dropout: channelwise must be true or false"),
    ({"kind": "residual", "channels": 300}, "layer 2 residual: channels 300 is over the limit of 256"),
    ({"kind": "residual", "stride": 0}, "layer 2 residual: stride must be a whole number of at least 1"),
    ({"kind": "flatten", "channelwise": True}, "layer 2 flatten: unknown setting 'channelwise'"),
    ({"kind": "dense", "size": 3}, "layer 2 dense: unknown setting 'size'"),
]


@pytest.mark.parametrize("layer, message", BAD_LAYERS)
def test_spec_refuses_bad_layer_settings_naming_layer_and_field(layer, message):
    with pytest.raises(SpecError) as e:
        NetSpec.from_dict(spec_dict({"kind": "batchnorm"}, layer))
    assert one_line(e).startswith(message)
    assert e.value.layer == 2 and isinstance(e.value, UserError)


BAD_NET_FIELDS = [
    ({"input_shape": [2.0]}, "input_shape must be"), ({"input_shape": [True]}, "input_shape must be"),
    ({"input_shape": [0]}, "input_shape must be"), ({"input_shape": "2"}, "input_shape must be"),
    ({"input_shape": [1, 2]}, "input_shape must be"), ({"input_shape": [1, 28, "28"]}, "input_shape must be"),
    ({"input_shape": [10**6]}, "input_shape: features 1,000,000 is over the limit"),
    ({"input_shape": [1, 2000, 28]}, "input_shape: height 2,000 is over the limit of 1,024"),
    ({"input_shape": [5, 28, 28]}, "input_shape: channels 5 is over the limit of 4"),
    ({"outputs": 10**6}, "outputs: 1,000,000 is over the limit of 1,000"),
    ({"outputs": 1.5}, "outputs must be a whole number"),
    ({"outputs": True}, "outputs must be a whole number"),
    ({"outputs": "2"}, "outputs must be a whole number"), ({"outputs": 0}, "outputs must be a whole number"),
    ({"layers": {"kind": "dense"}}, "layers must be a list"),
    ({"layers": [{"kind": "batchnorm"}] * (MAX_LAYERS + 1)}, f"over the limit of {MAX_LAYERS}"),
    ({"layers": [5]}, "layer 1: must be an object with a 'kind'"),
    ({"task": ["classification"]}, "task must be one of"), ({"task": "clustering"}, "task must be one of"),
    ({"name": [1]}, "name must be text"), ({"name": "x" * 201}, "name must be text of at most 200"),
]


@pytest.mark.parametrize("fields, message", BAD_NET_FIELDS)
def test_spec_refuses_bad_network_fields(fields, message):
    with pytest.raises(SpecError) as e:
        NetSpec.from_dict(spec_dict(**fields))
    assert message in one_line(e)


def test_a_spec_built_in_code_gets_the_same_limits():
    spec = NetSpec((2,), 2, [LayerSpec("dense", units=INT_LIMITS["units"][1] + 1)])
    with pytest.raises(SpecError, match="layer 1 dense: units 1,025 is over the limit of 1,024") as e:
        analyse(spec)
    assert e.value.layer == 1
    with pytest.raises(SpecError, match="outputs: 2,000 is over the limit"):
        analyse(NetSpec((2,), 2000, []))
    assert LayerSpec(["dense"]).args == {}                  # an odd kind does not crash the lookup


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 900, 5000, 60_000])
def test_deep_json_is_refused_before_parsing(depth):
    text = "[" * depth + "]" * depth
    with pytest.raises(SpecError, match="nested") as e:
        NetSpec.from_json(text)
    one_line(e)
    with pytest.raises(SpecError, match="nested|too large"):
        decode_url_json(_link_of(text))


def _link_of(text: str) -> str:
    import base64
    import zlib
    return base64.urlsafe_b64encode(zlib.compress(text.encode())).rstrip(b"=").decode()


def test_brackets_inside_strings_do_not_count_as_nesting():
    d = spec_dict(name="[" * 150)
    assert NetSpec.from_json(json.dumps(d)).name == "[" * 150


@pytest.mark.parametrize("text, message", [
    ("A" * 200_000, "too large"),
    (None, "damaged"),
    (["x"], "damaged"),
    (_link_of('{"input_shape": [' + "1" * 5000 + "]}"), "number too long"),
])
def test_links_are_bounded_before_decoding(text, message):
    with pytest.raises(SpecError, match=message):
        decode_url_json(text)


def test_a_huge_number_in_a_spec_file_is_one_line():
    with pytest.raises(SpecError, match="number too long"):
        NetSpec.from_json('{"input_shape": [' + "1" * 5000 + '], "outputs": 2, "layers": []}')


# -- shared links -------------------------------------------------------------------------------

def link(**parts) -> str:
    return encode_url_json({"d": "circle", "n": default_workspace().spec.to_dict(), **parts})


BAD_LINKS = [
    ({"d": ["circle"]}, "dataset"), ({"d": 5}, "dataset"), ({"d": None}, "dataset"), ({"d": ""}, "dataset"),
    ({"d": "x" * 5000}, "dataset"), ({"d": "mnist"}, "unknown dataset 'mnist'"),
    ({"p": [1]}, "dataset settings"), ({"p": 5}, "dataset settings"), ({"p": "n=5"}, "dataset settings"),
    ({"p": {"bogus": 1}}, "unknown dataset setting 'bogus'"),
    ({"p": {"n_samples": "100"}}, "'n_samples'"), ({"p": {"n_samples": 2_000_000}}, "'n_samples'"),
    ({"p": {"n_samples": 1.5}}, "'n_samples'"), ({"p": {"noise": "high"}}, "'noise'"),
    ({"p": {"noise": NAN}}, "'noise'"), ({"p": {"seed": -1}}, "'seed'"), ({"p": {"seed": 10**23}}, "'seed'"),
    ({"p": {"features": 3}}, "'features'"), ({"p": {"features": ["x1", 3]}}, "'features'"),
    ({"p": {"features": "x1"}}, "'features'"), ({"p": {"test_fraction": 2}}, "'test_fraction'"),
    ({"p": {"image_size": 1.5}}, "'image_size'"),
    ({"s": ["x"]}, "preset"), ({"s": 5}, "preset"), ({"s": "nope"}, "unknown preset 'nope'"),
    ({"t": [1]}, "training settings"), ({"t": 5}, "training settings"), ({"t": "x"}, "training settings"),
    ({"t": {"epochs": "5"}}, "'epochs'"), ({"t": {"epochs": 1.5}}, "'epochs'"),
    ({"t": {"seed": 10**23}}, "'seed'"), ({"t": {"lr": None}}, "'lr'"), ({"t": {"lr": NAN}}, "'lr'"),
    ({"t": {"max_snapshots": 10**9}}, "'max_snapshots'"), ({"t": {"nope": 1}}, "unknown training setting"),
    ({"n": 5}, "must be a JSON object"), ({"n": {"input_shape": [2]}}, "missing"),
    ({"z": 1}, "unknown part 'z'"),
]


@pytest.mark.parametrize("parts, message", BAD_LINKS)
def test_every_part_of_a_link_is_checked(parts, message):
    with pytest.raises(UserError) as e:
        Workspace.from_url(link(**parts))
    assert message in one_line(e)


def test_a_link_with_a_bad_layer_names_it():
    n = spec_dict({"kind": "batchnorm"}, {"kind": "maxpool", "stride": "2"})
    with pytest.raises(UserError, match="layer 2 maxpool: stride must be a whole number, got '2'"):
        Workspace.from_url(encode_url_json({"d": "digits", "n": n}))


@pytest.mark.parametrize("preset", list(PRESETS))
def test_valid_links_still_round_trip(preset):
    entry = DATASETS[PRESETS[preset].dataset]
    shape, outputs = entry.input_shape, entry.num_classes or 1
    ws = default_workspace().with_preset(preset, shape, outputs, entry.task)
    from dataclasses import replace
    ws = replace(ws, dataset=entry.key,
                 params=DatasetParams(n_samples=max_samples(entry.key), seed=MAX_SEED, noise=0.5,
                                      test_fraction=0.3))
    back = Workspace.from_url(ws.to_url())
    assert back == ws


# -- bundles ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_bundle():
    spec = preset_spec("playground", (2,), 2)
    weights = {k: v.clone() for k, v in build(spec, "cpu").model.state_dict().items()}
    info = {"key": "circle", "task": "classification", "classes": ["inside", "outside"],
            "input_shape": [2], "features": ["x1", "x2"], "norm_mean": [], "norm_std": []}
    return spec, weights_bytes(weights), info


def meta_bytes(spec, dataset=None, train=None, **extra) -> bytes:
    meta = {"spec": spec.to_dict(), "dataset": dataset if dataset is not None else {},
            "train": train if train is not None else TrainConfig().to_dict(), **extra}
    return json.dumps(meta).encode()


BAD_INFO = [
    ("norm_mean", "0.5"), ("norm_mean", [NAN]), ("norm_mean", [INF]), ("norm_mean", ["0.5"]),
    ("norm_mean", [0.1, 0.2, 0.3]), ("norm_mean", [10**400]), ("norm_mean", [True]),
    ("norm_std", [0.0]), ("norm_std", [-1.0]), ("norm_std", {"a": 1}),
    ("classes", "inside,outside"), ("classes", ["only one"]), ("classes", [1, 2]),
    ("classes", ["x" * 300] * 2),
    ("features", "x1"), ("features", ["x1", "x9"]), ("features", ["x1"]), ("features", [1, 2]),
    ("input_shape", [3]), ("input_shape", 2), ("task", "regression"), ("task", ["classification"]),
    ("key", 5), ("key", "x" * 5000), ("bogus", 1),
]


@pytest.mark.parametrize("field, value", BAD_INFO)
def test_bundle_dataset_fields_are_typed_and_match_the_network(small_bundle, field, value):
    spec, weights, info = small_bundle
    with pytest.raises(UserError) as e:
        bundle_from_bytes(meta_bytes(spec, {**info, field: value}), weights)
    assert f"dataset field '{field}'" in one_line(e)


@pytest.mark.parametrize("meta, message", [
    ({"dataset": [1]}, "'dataset' must be an object"), ({"train": [1]}, "'train' must be an object"),
    ({"final": "good"}, "'final' must be an object"), ({"train": {"epochs": 1.5}}, "'epochs'"),
    ({"train": {"lr": "fast"}}, "'lr'"), ({"train": {"seed": 10**23}}, "'seed'"),
])
def test_bundle_parts_are_typed(small_bundle, meta, message):
    spec, weights, info = small_bundle
    raw = json.dumps({"spec": spec.to_dict(), **meta}).encode()
    with pytest.raises(UserError) as e:
        bundle_from_bytes(raw, weights)
    assert message in one_line(e) and "model.json" in str(e.value)


def test_bundle_refuses_deep_json_and_keeps_good_fields(small_bundle):
    spec, weights, info = small_bundle
    deep = b'{"spec": 1, "x": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    with pytest.raises(UserError, match="model.json: the JSON is nested"):
        bundle_from_bytes(deep, weights)
    b = bundle_from_bytes(meta_bytes(spec, info, final={"test_accuracy": 0.9, "bad": NAN, "b": True}),
                          weights)
    assert b.classes == ["inside", "outside"] and b.final == {"test_accuracy": 0.9}


def test_a_real_datasets_info_is_accepted(small_bundle):
    spec, weights, _ = small_bundle
    ds = load_dataset("circle", n_samples=100)
    assert bundle_from_bytes(meta_bytes(spec, dataset_info(ds)), weights).dataset["key"] == "circle"
    img = load_dataset("digits", n_samples=100)
    lenet = preset_spec("lenet", img.input_shape, img.output_size)
    w = weights_bytes(dict(build(lenet, "cpu").model.state_dict()))
    info = bundle_from_bytes(meta_bytes(lenet, dataset_info(img)), w).dataset
    assert len(info["norm_mean"]) == 1 and math.isfinite(info["norm_std"][0])


# -- the command line -----------------------------------------------------------------------------

def cli(capsys, monkeypatch, *args) -> tuple[int, list[str]]:
    from dlviz.cli import main
    monkeypatch.setenv("DLVIZ_THREADS", "1")
    rc = main(list(args))
    return rc, capsys.readouterr().err.strip().splitlines()


BAD_FLAGS = [
    (["--samples", "1000000000"], "'n_samples'"), (["--samples", "5"], "'n_samples'"),
    (["--dataset", "digits", "--preset", "lenet", "--samples", "60001"], "'n_samples'"),
    (["--seed", str(10**23)], "'seed'"), (["--seed", "-1"], "'seed'"),
    (["--epochs", "0"], "'epochs'"), (["--epochs", "100001"], "'epochs'"),
    (["--batch-size", "0"], "'batch_size'"), (["--lr", "nan"], "'lr'"), (["--lr", "inf"], "'lr'"),
    (["--momentum", "1"], "'momentum'"), (["--weight-decay", "2"], "'weight_decay'"),
    (["--l1", "-1"], "'l1'"), (["--noise", "nan"], "'noise'"), (["--noise", "1.5"], "'noise'"),
    (["--test-fraction", "1"], "'test_fraction'"), (["--test-fraction", "nan"], "'test_fraction'"),
    (["--image-size", "10000"], "'image_size'"), (["--features", "x1,x1"], "'features'"),
    (["--device", "cuda:abc"], "'device'"), (["--out", "/proc/dlviz-x/y"], "--out"),
    (["--samples", "1e9"], "invalid int value"),
]


@pytest.mark.parametrize("flags, message", BAD_FLAGS)
def test_cli_flags_are_bounded_exit_2_one_line(no_build, capsys, monkeypatch, flags, message):
    rc, err = cli(capsys, monkeypatch, "train", *flags)
    assert rc == 2 and len(err) == 1, err
    assert err[0].startswith("error: ") and message in err[0]


def test_cli_out_under_a_file_or_on_a_file(no_build, tmp_path, capsys, monkeypatch):
    f = tmp_path / "a-file"
    f.write_text("x")
    for out in (str(f / "sub"), str(f)):
        rc, err = cli(capsys, monkeypatch, "train", "--epochs", "1", "--out", out)
        assert rc == 2 and len(err) == 1 and "--out" in err[0], err
    assert f.read_text() == "x"


@pytest.mark.parametrize("flags, message", [
    # one over the limit: were it let through, it would only train briefly on 20,001 points
    (["--samples", "20001", "--epochs", "1"],
     "dataset setting 'n_samples' 20,001 is over the limit of 20,000"),
    (["--epochs", "1", "--out", "/proc/dlviz-x"], "--out /proc/dlviz-x: cannot create this folder"),
])
def test_cli_subprocess_exit_code_and_one_line(flags, message):
    env = {**os.environ, "PYTHONPATH": ROOT, "DLVIZ_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "dlviz", "train", *flags], capture_output=True, text=True,
                       cwd=ROOT, env=env, timeout=120)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert lines[0].startswith(f"error: {message}")


# -- the layer editor: one set of limits, never a silent clamp --------------------------------------

def _editor_app():
    from dlviz.spec import LayerSpec, NetSpec, SpecError, analyse
    from dlviz.ui.layer_editor import layer_editor
    spec = NetSpec((2,), 2, [LayerSpec("dense", units=5000), LayerSpec("dropout", p=0.5),
                             LayerSpec("dense", units=8)])
    try:
        analyse(spec)
        err = None
    except SpecError as e:
        err = e
    layer_editor(spec, err)


def test_layer_editor_shows_an_over_limit_value_as_is_with_the_spec_message():
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_function(_editor_app, default_timeout=60)
    at.run()
    assert not at.exception
    assert at.number_input(key="L0_0_units").value == 5000               # not clamped to 1,024
    assert [e.value for e in at.error] == ["layer 1 dense: units 5,000 is over the limit of 1,024 "
                                           "on this server"]
    # the boxes take any number and leave the limits to the spec check and its message
    assert at.number_input(key="L0_2_units").max > INT_LIMITS["units"][1]
    assert at.number_input(key="L0_1_p").max > MAX_DROPOUT


def _editing_app():
    import streamlit as st

    from dlviz.spec import LayerSpec, NetSpec, SpecError, analyse
    from dlviz.ui.layer_editor import layer_editor
    spec = st.session_state.setdefault("spec", NetSpec((2,), 2, [LayerSpec("dense", units=8)]))
    try:
        analyse(spec)
        err = None
    except SpecError as e:
        err = e
    edited = layer_editor(spec, err)
    if edited != spec:
        st.session_state["spec"] = edited
        st.rerun()


def test_typing_a_value_over_the_limit_reaches_the_spec_check_and_its_message():
    """A box bounded by the limits refused 100,000 in the browser with a small red mark
    only; the box now hands it on, and the layer says what is allowed."""
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_function(_editing_app, default_timeout=60)
    at.run()
    at.number_input(key="L0_0_units").set_value(100_000).run()
    assert not at.exception
    assert at.session_state["spec"].layers[0].args["units"] == 100_000
    assert "layer 1 dense: units 100,000 is over the limit of 1,024 on this server" in [e.value for e in at.error]
