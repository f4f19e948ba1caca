"""NetSpec: JSON / URL round trips, validation messages, hand-counted parameters."""

import json

import pytest

from dlviz.presets import PRESETS, preset_spec
from dlviz.spec import MAX_LAYERS, MAX_PARAMS, LayerSpec, NetSpec, SpecError, analyse
from dlviz.spec_link import decode_url_json


def lenet_like():
    return NetSpec((1, 28, 28), 10, [
        LayerSpec("conv2d", channels=6, kernel=5, padding=2, activation="relu"),
        LayerSpec("maxpool", kernel=2),
        LayerSpec("conv2d", channels=16, kernel=5, padding=0, activation="relu"),
        LayerSpec("maxpool", kernel=2),
        LayerSpec("flatten"),
        LayerSpec("dense", units=120, activation="relu"),
        LayerSpec("dense", units=84, activation="relu"),
    ])


@pytest.mark.parametrize("spec", [lenet_like()] + [
    preset_spec(k, (1, 28, 28) if p.needs_image else (2,), 10 if p.needs_image else 2)
    for k, p in PRESETS.items()])
def test_json_and_url_round_trip(spec):
    assert NetSpec.from_json(spec.to_json()) == spec
    assert NetSpec.from_url(spec.to_url()) == spec
    url = spec.to_url()
    assert all(c.isalnum() or c in "-_" for c in url)   # safe in a query string unescaped
    assert len(url) < len(spec.to_json(indent=None))    # compact


def test_parameter_counts_match_hand_counts():
    r = analyse(lenet_like())
    by_index = {x.index: x for x in r.layers}
    assert by_index[1].params == 1 * 6 * 5 * 5 + 6          # 156
    assert by_index[3].params == 6 * 16 * 5 * 5 + 16        # 2416
    assert by_index[6].params == 16 * 5 * 5 * 120 + 120     # 48120
    assert by_index[7].params == 120 * 84 + 84              # 10164
    assert by_index[8].params == 84 * 10 + 10               # 850: output head
    assert r.total_params == 156 + 2416 + 48120 + 10164 + 850
    assert [x.output_shape for x in r.layers[:5]] == [(6, 28, 28), (6, 14, 14), (16, 10, 10),
                                                      (16, 5, 5), (400,)]


def test_playground_parameter_count():
    r = analyse(preset_spec("playground", (2,), 2))
    # 2->4 (12), 4->2 (10), 2->2 output (6)
    assert [x.params for x in r.layers] == [12, 10, 6]
    assert r.total_params == 28


def test_batchnorm_and_residual_counts():
    spec = NetSpec((3, 8, 8), 2, [LayerSpec("batchnorm"), LayerSpec("residual", channels=4),
                                  LayerSpec("globalavgpool")])
    r = analyse(spec)
    assert r.layers[0].params == 6
    # conv 3->4 (108) + conv 4->4 (144) + two BNs (16) + 1x1 skip 3->4 (12)
    assert r.layers[1].params == 108 + 144 + 16 + 12
    assert r.layers[2].output_shape == (4,)


def test_activation_memory_estimate_counts_pre_and_post_activation():
    spec = NetSpec((2,), 2, [LayerSpec("dense", units=10, activation="tanh")])
    r = analyse(spec)
    assert r.layers[0].activation_bytes == 2 * 10 * 4
    assert r.activation_bytes == 2 * 4 + 80 + 2 * 4


@pytest.mark.parametrize("layers, message, layer", [
    ([LayerSpec("conv2d", channels=4, kernel=3, padding=0)] * 3
     + [LayerSpec("conv2d", channels=4, kernel=5, padding=0)],
     "layer 4 conv2d: kernel 5 does not fit a 3x3 input", 4),
    ([LayerSpec("dense", units=4)], "layer 1 dense: needs a flat input, got 1x9x9; add a flatten", 1),
    ([LayerSpec("maxpool", kernel=10)], "layer 1 maxpool: pool window 10 does not fit a 9x9 input", 1),
    ([LayerSpec("flatten"), LayerSpec("conv2d")], "layer 2 conv2d: needs an image input", 2),
    ([LayerSpec("conv2d", activation="swish")], "layer 1 conv2d: unknown activation 'swish'", 1),
    ([LayerSpec("lstm")], "layer 1 lstm: unknown layer kind", 1),
    ([LayerSpec("flatten"), LayerSpec("dense", units=0)],
     "layer 2 dense: units must be a whole number of at least 1", 2),
    ([LayerSpec("dropout", p=1.5)],
     "layer 1 dropout: p (the dropout rate) must be a number from 0 to 0.95", 1),
    ([LayerSpec("conv2d", channels=4, kernel=3, stride=1, padding=1, size=3)],
     "layer 1 conv2d: unknown setting 'size'", 1),
    ([LayerSpec("conv2d")], "layer 2 output: needs a flat input, got 8x9x9", 2),
])
def test_validation_names_the_layer_and_the_shape(layers, message, layer):
    spec = NetSpec((1, 9, 9), 3, layers)
    with pytest.raises(SpecError) as e:
        analyse(spec)
    assert message in str(e.value)
    if layer:
        assert e.value.layer == layer


def test_guard_rails_state_the_limits():
    huge = NetSpec((10_000,), 2, [LayerSpec("dense", units=1000)])
    with pytest.raises(SpecError, match=f"over the limit of {MAX_PARAMS:,}"):
        analyse(huge)
    deep = NetSpec((2,), 2, [LayerSpec("dense", units=2)] * (MAX_LAYERS + 1))
    with pytest.raises(SpecError, match=f"limit of {MAX_LAYERS}"):
        analyse(deep)


def test_task_and_outputs_are_checked():
    with pytest.raises(SpecError, match="regression network has 1 output"):
        analyse(NetSpec((2,), 2, [], task="regression"))
    with pytest.raises(SpecError, match="at least 2 outputs"):
        analyse(NetSpec((2,), 1, []))


@pytest.mark.parametrize("text, message", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
    ('{"input_shape": [2], "layers": []}', "missing outputs"),
    ('{"input_shape": [2, 2], "outputs": 2, "layers": []}', "input_shape must be"),
    ('{"input_shape": [2], "outputs": 2, "layers": [3]}', "layer 1: must be an object"),
])
def test_malformed_json_gets_one_clear_error(text, message):
    with pytest.raises(SpecError, match=message):
        NetSpec.from_json(text)


def test_damaged_or_oversized_links_are_refused():
    with pytest.raises(SpecError, match="damaged"):
        NetSpec.from_url("!!!not-base64!!!")
    import base64
    import zlib
    bomb = base64.urlsafe_b64encode(zlib.compress(b"[" + b"0," * 200_000 + b"0]")).decode()
    with pytest.raises(SpecError, match="too large"):
        decode_url_json(bomb)


def test_layer_defaults_are_filled_and_serialised():
    layer = LayerSpec("conv2d", channels=3)
    assert layer.args == {"channels": 3, "kernel": 3, "stride": 1, "padding": 1, "activation": "relu"}
    d = json.loads(NetSpec((1, 5, 5), 2, [layer, LayerSpec("flatten")]).to_json())
    assert d["layers"][0] == {"kind": "conv2d", "channels": 3, "kernel": 3, "stride": 1,
                              "padding": 1, "activation": "relu"}
