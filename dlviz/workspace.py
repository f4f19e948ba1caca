"""Everything a person has set up: dataset, network, training settings.

It is what a shared link carries (``?net=``), so opening the link rebuilds
the same network on the same data with the same settings, as TensorFlow
Playground's URL does.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from dlviz.data import DATASETS, PATH_LOADERS, DatasetParams, dataset_keys
from dlviz.data.registry import INLINE_LOADERS, check_params, default_preset
from dlviz.errors import UserError
from dlviz.presets import PRESETS, preset_spec
from dlviz.spec import NetSpec
from dlviz.spec_link import decode_url_json, encode_url_json
from dlviz.train.config import TrainConfig


@dataclass(frozen=True)
class Workspace:
    dataset: str
    spec: NetSpec
    config: TrainConfig
    params: DatasetParams = field(default_factory=DatasetParams)
    preset: str = ""            # the preset the network started from, if any

    def to_url(self) -> str:
        return encode_url_json({"d": self.dataset, "p": self.params.to_dict(),
                                "n": self.spec.to_dict(), "t": _changed(self.config),
                                "s": self.preset})

    @classmethod
    def from_url(cls, text: str) -> "Workspace":
        """From a shared link: every part typed and bounded, each mistake one UserError."""
        d = decode_url_json(text)
        if not isinstance(d, dict) or "n" not in d or "d" not in d:
            raise UserError("the shared link does not hold a network")
        unknown = set(d) - set(_LINK_PARTS)
        if unknown:
            raise UserError(f"the shared link has an unknown part {sorted(unknown)[0]!r:.40}")
        dataset = _link_dataset(d["d"])
        params = _link_params(d.get("p", {}), dataset)
        return cls(dataset, NetSpec.from_dict(d["n"]), TrainConfig.from_dict(d.get("t", {})),
                   params, _link_preset(d.get("s", "")))

    def with_preset(self, key: str, input_shape, outputs: int, task: str) -> "Workspace":
        spec = preset_spec(key, input_shape, outputs, task)
        config = TrainConfig.from_dict({**self.config.to_dict(), **PRESETS[key].train})
        return replace(self, spec=spec, config=config, preset=key)


def default_workspace() -> Workspace:
    """The playground preset on the circle: a first network that learns in seconds."""
    p = PRESETS["playground"]
    spec = preset_spec("playground", (2,), 2)
    return Workspace("circle", spec, TrainConfig.from_dict(p.train), DatasetParams(), "playground")


_LINK_PARTS = ("d", "p", "n", "t", "s")     # dataset, its params, network, training, preset
MAX_DATASET_KEY_CHARS = 4096                  # a folder:PATH key holds a path


def _link_dataset(key) -> str:
    if not isinstance(key, str) or not 0 < len(key) <= MAX_DATASET_KEY_CHARS:
        raise UserError(f"the shared link's dataset must be a dataset name, got {key!r:.40}")
    prefix, sep, _ = key.partition(":")
    if key not in DATASETS and not (sep and (prefix in PATH_LOADERS or prefix in INLINE_LOADERS)):
        raise UserError(f"the shared link names an unknown dataset {key!r:.40}; "
                        f"choose one of: {', '.join(dataset_keys())}")
    return key


def _link_params(params, dataset: str) -> DatasetParams:
    p = DatasetParams.from_dict(params)
    check_params(p, dataset)
    return p


def _link_preset(key) -> str:
    if key != "" and (not isinstance(key, str) or key not in PRESETS):
        raise UserError(f"the shared link names an unknown preset {key!r:.40}; "
                        f"choose one of: {', '.join(PRESETS)}")
    return key


def _changed(c: TrainConfig) -> dict:
    default = TrainConfig()
    return {k: v for k, v in c.to_dict().items() if v != getattr(default, k)}



def _is_toy(key: str) -> bool:
    return key in DATASETS and DATASETS[key].input_shape == (2,)


def params_for_dataset(old: str, new: str, params: DatasetParams) -> DatasetParams:
    """The dataset settings to start ``new`` with when the user switches from ``old``.

    A sample count or a noise level means something else on another dataset:
    500 is a 2-D set's default but would train digits on 400 images instead of
    its 12,000, and noise is label noise on circle but jitter on spiral. So they
    become the new dataset's own defaults (``None``), except that the sample count
    carries between the 2-D sets, which share a default and a range. The test
    share and the seed carry everywhere, the input features between 2-D sets,
    the image size between folders.
    """
    if new == old:
        return params
    toys = _is_toy(old) and _is_toy(new)
    folders = old.startswith("folder:") and new.startswith("folder:")
    return replace(params, n_samples=params.n_samples if toys else None, noise=None,
                   features=params.features if toys else DatasetParams().features,
                   image_size=params.image_size if folders else None,
                   target_column=None)      # a column name belongs to one table


def samples_shown(key: str, params: DatasetParams) -> int | None:
    """The sample count a dataset is built with: the setting, else the dataset's default
    (None for data from files: all of them)."""
    if params.n_samples is not None:
        return params.n_samples
    return DATASETS[key].default_samples if key in DATASETS else None


def adapt_to_dataset(ws: "Workspace", dataset: str, params: DatasetParams, input_shape,
                     outputs: int, task: str) -> "Workspace":
    """The same workspace on another dataset: a preset network is rebuilt for it
    (presets adapt their input and output layers); a custom one keeps its layers
    and takes the new input shape, output count and task."""
    old_default, new_default = default_preset(ws.dataset), default_preset(dataset)
    ws = replace(ws, dataset=dataset, params=params)
    # the app's own choice follows the data: a network that is the old dataset's own
    # preset becomes the new one's (a table gets tabular-mlp, real digits digits8-cnn);
    # a preset the person picked stays, and image folders keep whatever they had
    if (ws.preset == old_default and new_default != old_default and new_default in PRESETS
            and dataset.partition(":")[0] not in ("folder", "idx")):
        try:
            return ws.with_preset(new_default, input_shape, outputs, task)
        except UserError:
            pass
    if ws.preset in PRESETS:
        try:
            return ws.with_preset(ws.preset, input_shape, outputs, task)
        except UserError:
            pass        # e.g. a CNN preset on 2-D data: keep the layers, show the error
    spec = NetSpec(tuple(input_shape), outputs, ws.spec.layers, task, ws.spec.name)
    return replace(ws, spec=spec)
