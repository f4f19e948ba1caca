"""AppTest: the Explain page's "Which concepts?" section: TCAV bars for the built-in shape
concepts, the user's own concept zip (and a broken one), scores over training, and a
2-D model that has no built-in concepts."""

import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from tests.test_pages import no_exceptions
from tests.test_pages_inside import trained_app

SECTION = "Which concepts?"


@pytest.fixture(scope="module")
def shapes_app():
    at = trained_app("vgg-shapes")
    at.switch_page("app_pages/explain.py").run(timeout=120)
    no_exceptions(at)
    at.segmented_control(key="explain_section").set_value(SECTION).run(timeout=300)
    no_exceptions(at)
    return at





def _bars(at) -> dict:
    for ch in at.get("plotly_chart"):
        spec = json.loads(ch.proto.spec)
        if spec["data"] and spec["data"][0].get("type") == "bar" and "TCAV" in json.dumps(spec["layout"]):
            return spec
    raise AssertionError("no TCAV bar chart")


def test_builtin_concepts_are_scored_and_tested(shapes_app):
    at = shapes_app
    assert not at.error, [e.value for e in at.error]
    chosen = at.multiselect(key="explain_concepts_names").value
    assert set(chosen) >= {"red", "green", "blue", "noise"}, chosen
    bars = _bars(at)["data"][0]
    assert list(bars["x"]) == list(chosen)                      # one bar per concept, in order
    texts = bars["text"]
    assert all(t.startswith("p=") for t in texts)
    caption = next(c.value for c in at.caption if c.value.startswith("TCAV score"))
    assert "random-vs-random" in caption and "Bonferroni" in caption
    assert at.selectbox(key="explain_concepts_layer").value.startswith("conv")


def test_over_training_draws_one_line_per_concept(shapes_app):
    at = shapes_app
    at.toggle(key="explain_concepts_over_time").set_value(True).run(timeout=300)
    no_exceptions(at)
    assert not at.error, [e.value for e in at.error]
    lines = [json.loads(ch.proto.spec) for ch in at.get("plotly_chart")]
    over = next(f for f in lines if "training step" in json.dumps(f["layout"]))
    names = [t["name"] for t in over["data"]]
    chosen = at.multiselect(key="explain_concepts_names").value
    assert names == list(chosen) + ["random concepts"]
    steps = over["data"][0]["x"]
    assert len(steps) >= 2 and list(steps) == sorted(steps)
    at.toggle(key="explain_concepts_over_time").set_value(False).run(timeout=120)


def _concept_zip(good: bool = True) -> bytes:
    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(buf, "w") as z:
        for name in ("striped", "dotted"):
            for i in range(8 if good else 2):
                img = np.zeros((32, 32, 3), np.uint8)
                if name == "striped":
                    img[::4] = rng.integers(100, 255, 3)
                else:
                    img[::6, ::6] = rng.integers(100, 255, 3)
                b = io.BytesIO()
                Image.fromarray(img).save(b, "PNG")
                z.writestr(f"concepts/{name}/{i}.png", b.getvalue())
    return buf.getvalue()


def test_own_concept_zip_is_offered_and_scored_and_a_bad_one_is_one_message(shapes_app):
    at = shapes_app
    at.file_uploader(key="explain_concepts_zip").set_value(("mine.zip", _concept_zip(), "application/zip")) \
        .run(timeout=300)
    no_exceptions(at)
    assert not at.error, [e.value for e in at.error]
    names = at.multiselect(key="explain_concepts_names")
    assert {"striped (yours)", "dotted (yours)"} <= set(names.options)
    assert set(names.value[:2]) == {"striped", "dotted"}          # your own concepts are picked first
    assert len(names.value) <= 8
    assert list(_bars(at)["data"][0]["x"]) == list(names.value)
    at.file_uploader(key="explain_concepts_zip").set_value(("bad.zip", _concept_zip(False), "application/zip")) \
        .run(timeout=120)
    no_exceptions(at)
    assert len(at.error) == 1 and "could not be read" in at.error[0].value, [e.value for e in at.error]
    assert _bars(at)                                            # the built-in concepts still work


def test_a_2d_model_has_no_builtin_concepts():
    at = trained_app("playground")
    at.switch_page("app_pages/explain.py").run()
    no_exceptions(at)
    at.segmented_control(key="explain_section").set_value(SECTION).run()
    no_exceptions(at)
    assert any("Give concepts as a zip" in i.value for i in at.info), [i.value for i in at.info]
