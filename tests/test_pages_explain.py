"""AppTest: the Explain page -- attributions, the strip over training, the trust
checks, another target class, uploaded models -- and every crafted bad upload
getting one message while the page and the run carry on."""

import io
import zipfile

import pytest
import torch

from tests.bad_inputs import BAD, BAD_REASON, ODD
from tests.test_pages import no_exceptions
from tests.test_pages_inside import captions, trained_app

from dlviz.bundle import bundle_zip, make_bundle, weights_bytes
from dlviz.ui.state import registry


@pytest.fixture(scope="module")
def lenet():
    at = trained_app("lenet", epochs=2)
    at.switch_page("app_pages/explain.py").run()
    no_exceptions(at)
    return at


def _run(at):
    return registry().get(at.session_state["dlviz_run"])


def test_attributions_side_by_side_and_another_class(lenet):
    at = lenet
    shown = captions(at)
    for label in ("Saliency", "Integrated Gradients", "Occlusion", "Grad-CAM · conv2_relu"):
        assert label in shown, shown
    assert any("Convergence delta" in c.value for c in at.caption)      # IG reports its delta
    assert len(at.get("download_button")) == 2                          # PNG and .npy
    target = next(s for s in at.selectbox if s.key.startswith("explain_target_"))
    predicted = target.value
    other = (predicted + 1) % 10
    target.set_value(other).run()
    no_exceptions(at)
    assert any(m.value == f"**Why {other}?**" for m in at.markdown)
    at.multiselect(key="explain_methods").set_value(["saliency", "guided_gradcam", "layer_conductance"]).run()
    no_exceptions(at)
    assert not at.error
    assert {"Saliency", "Guided Grad-CAM · conv2_relu"} <= set(captions(at))


def test_strip_over_training_and_trust_checks(lenet):
    at = lenet
    at.multiselect(key="explain_methods").set_value(["saliency", "integrated_gradients", "gradcam"]).run()
    at.segmented_control(key="explain_section").set_value("Over training").run()
    no_exceptions(at)
    steps = [c for c in captions(at) if c.startswith("step ")]
    assert len(steps) >= 5 and steps[0] == "step 0"
    at.segmented_control(key="explain_section").set_value("Can I trust it?").run()
    no_exceptions(at)
    verdicts = [s.value for s in at.success] + [w.value for w in at.warning]
    assert any("rank correlation" in v for v in verdicts)
    assert len(at.get("plotly_chart")) >= 3               # probabilities, randomisation, deletion
    assert any("smaller area is better" in c.value for c in at.caption)
    at.segmented_control(key="explain_section").set_value("Attributions").run()


def test_every_bad_image_gets_one_message_and_the_page_carries_on(lenet):
    at = lenet
    at.segmented_control(key="explain_in_source").set_value("Upload an image").run()
    for name, data in BAD.items():
        at.file_uploader(key="explain_in_upload").set_value((name, data, "image/png")).run()
        no_exceptions(at)
        msgs = [e.value for e in at.error]
        assert len(msgs) == 1 and BAD_REASON[name] in msgs[0], (name, msgs)
        assert "Traceback" not in msgs[0]
    assert _run(at) is not None and _run(at).handle.status == "finished"     # nothing lost
    for name, (data, _) in ODD.items():
        at.file_uploader(key="explain_in_upload").set_value((name, data, "image/png")).run()
        no_exceptions(at)
        assert not at.error, (name, [e.value for e in at.error])
        assert "what the model sees" in captions(at)
        assert "Saliency" in captions(at)


def _bundle_files(at) -> dict[str, bytes]:
    entry = _run(at)
    b = make_bundle(entry.spec, entry.handle.snapshot().weights, entry.dataset, entry.config,
                    entry.handle.state())
    with zipfile.ZipFile(io.BytesIO(bundle_zip(b))) as z:
        return {n: z.read(n) for n in z.namelist()}


def test_uploaded_models_good_and_bad(lenet):
    at = lenet
    files = _bundle_files(at)
    at.segmented_control(key="explain_source").set_value("Upload a model").run()
    uploader = at.file_uploader(key="explain_bundle_files")
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        for n, d in files.items():
            z.writestr(n, d)
    uploader.set_value([("dlviz-model.zip", zipped.getvalue(), "application/zip")]).run()
    no_exceptions(at)
    assert not at.error, [e.value for e in at.error]
    assert "Saliency" in captions(at)                     # explains with the uploaded model
    weights = files["weights.safetensors"]
    from safetensors.torch import load as st_load
    tensors = st_load(weights)
    nan = dict(tensors)
    nan["conv1.weight"] = torch.full_like(nan["conv1.weight"], float("nan"))
    spec_json = files["model.json"]
    bad = {
        "pickle": ([("model.pt", torch.zeros(1).numpy().tobytes(), "application/octet-stream")], "safetensors only"),
        "nan": ([("model.json", spec_json, "application/json"),
                 ("weights.safetensors", weights_bytes(nan), "application/octet-stream")], "NaN"),
        "mismatch": ([("model.json", spec_json, "application/json"),
                      ("weights.safetensors", weights_bytes({"output.bias": torch.zeros(10)}),
                       "application/octet-stream")], "do not match"),
        "not json": ([("model.json", b"{nope", "application/json"),
                      ("weights.safetensors", weights, "application/octet-stream")], "not valid JSON"),
        "garbage zip": ([("model.zip", b"PK\x03\x04 not really", "application/zip")], ""),
        "one file": ([("model.json", spec_json, "application/json")], "exactly one"),
    }
    for what, (upload, reason) in bad.items():
        at.file_uploader(key="explain_bundle_files").set_value(upload).run()
        no_exceptions(at)
        msgs = [e.value for e in at.error]
        assert len(msgs) == 1 and "cannot be used" in msgs[0] and reason in msgs[0], (what, msgs)
    assert _run(at).handle.status == "finished"


def test_shapes_model_shows_how_much_attribution_falls_on_the_object():
    at = trained_app("vgg-shapes")
    at.switch_page("app_pages/explain.py").run()
    no_exceptions(at)
    at.segmented_control(key="explain_section").set_value("Can I trust it?").run()
    no_exceptions(at)
    table = at.dataframe[0].value
    assert list(table["method"]) == ["Saliency", "Input x Gradient", "Integrated Gradients", "Occlusion",
                                     "Grad-CAM"]
    assert ((table["inside the mask"] >= 0) & (table["inside the mask"] <= 1)).all()
    assert (abs(table["ratio"] * table["mask area"] - table["inside the mask"]) < 1e-6).all()
