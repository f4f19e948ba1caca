"""A trained model as a folder: spec + weights + metrics, no pickle anywhere.

    model.json          {"spec": NetSpec, "dataset": {...}, "train": TrainConfig, "final": {...}}
    weights.safetensors the state dict (float tensors and batch-norm counters)
    metrics.csv         one row per recorded step: losses, accuracies, learning rate
    checkpoints.safetensors  optional: a few snapshots of the run (bundle_checkpoints.py)

Loading trusts nothing: the spec is validated, the tensors must match the
network the spec builds (names, shapes, dtypes), must be finite, and the
files must stay under size limits.
"""

from __future__ import annotations

import csv
import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from typing import Iterable

import torch

from dlviz.build import BuiltNet, build
from dlviz.bundle_checkpoints import CHECKPOINTS_FILE, checkpoints_bytes, checkpoints_from_bytes
from dlviz.data.dataset import Dataset
from dlviz.data.features import FEATURES
from dlviz.data.params import DatasetParams
from dlviz.errors import UserError
from dlviz.spec import NetSpec, is_number
from dlviz.spec_link import load_json
from dlviz.train.config import TrainConfig
from dlviz.train.history import MAX_WEIGHTS_BYTES, weights_bytes, weights_from_bytes
from dlviz.train.state import TrainerState

MODEL_FILE, WEIGHTS_FILE, METRICS_FILE = "model.json", "weights.safetensors", "metrics.csv"
MAX_JSON_BYTES = 1 * 2**20
MAX_METRICS_BYTES = 8 * MAX_JSON_BYTES
MAX_CLASS_NAME_CHARS = 255              # a class is a folder name
MAX_DATASET_KEY_CHARS = 4096            # folder:PATH
MAX_NORM_VALUE = 1e6                    # normalisation of pixels on [0, 1] or 2-D features
# what other tools save weights as; all of them are (or may be) pickles
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin")
SAFETENSORS_ONLY = "safetensors only: pickles (torch .pt/.pth files) can run code and are never loaded"


@dataclass
class Bundle:
    spec: NetSpec
    weights: dict[str, torch.Tensor]
    dataset: dict = field(default_factory=dict)    # key, classes, features, norm_mean/std
    train: dict = field(default_factory=dict)      # TrainConfig as a dict
    final: dict = field(default_factory=dict)      # final metrics
    metrics_csv: str = ""
    checkpoints: list = field(default_factory=list)    # [(step, state_dict)], oldest first

    def model(self, device="cpu") -> BuiltNet:
        net = build(self.spec, device)
        net.model.load_state_dict(self.weights)
        net.model.eval()
        return net

    @property
    def classes(self) -> list[str]:
        return list(self.dataset.get("classes", []))


def dataset_info(ds: Dataset) -> dict:
    """What an exported model needs to read new inputs the way it was trained."""
    return {"key": ds.key, "task": ds.task, "classes": list(ds.classes),
            "input_shape": list(ds.input_shape), "features": list(ds.features),
            "norm_mean": list(ds.norm_mean), "norm_std": list(ds.norm_std),
            **({"params": ds.params.to_dict()} if ds.params is not None else {})}


def metrics_table(state: TrainerState) -> str:
    """History and evaluations merged by step, as CSV text."""
    rows: dict[int, dict] = {}
    for r in state.history + state.evals:
        rows.setdefault(r["step"], {}).update(r)
    cols = ["step", "epoch", "train_loss", "lr", "train_accuracy", "test_loss", "test_accuracy"]
    have = [c for c in cols if any(c in r for r in rows.values())]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=have, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for step in sorted(rows):
        w.writerow({k: _fmt(v) for k, v in rows[step].items()})
    return buf.getvalue()


def _fmt(v):
    return f"{v:.6g}" if isinstance(v, float) else v


def make_bundle(spec: NetSpec, weights: dict[str, torch.Tensor], ds: Dataset, config: TrainConfig,
                state: TrainerState | None = None, checkpoints: list | None = None) -> Bundle:
    return Bundle(spec, weights, dataset_info(ds), config.to_dict(),
                  dict(state.final) if state else {}, metrics_table(state) if state else "",
                  list(checkpoints or []))


def save_bundle(bundle: Bundle, out_dir: str) -> None:
    os.makedirs(out_dir, exist_ok=True)
    meta = {"format": "dlviz-bundle-1", "spec": bundle.spec.to_dict(), "dataset": bundle.dataset,
            "train": bundle.train, "final": bundle.final}
    with open(os.path.join(out_dir, MODEL_FILE), "w") as f:
        json.dump(meta, f, indent=2)
    with open(os.path.join(out_dir, WEIGHTS_FILE), "wb") as f:
        f.write(weights_bytes(bundle.weights))
    with open(os.path.join(out_dir, METRICS_FILE), "w") as f:
        f.write(bundle.metrics_csv)
    ckpt = os.path.join(out_dir, CHECKPOINTS_FILE)
    if bundle.checkpoints:
        with open(ckpt, "wb") as f:
            f.write(checkpoints_bytes(bundle.checkpoints))
    elif os.path.exists(ckpt):
        os.remove(ckpt)                 # a stale one from an earlier save into this folder


def bundle_training_set(bundle: Bundle) -> Dataset:
    """The bundle's training data rebuilt from its dataset key and settings (generated sets
    are seeded, so the same split comes back), checked against the network; ``UserError``
    saying why not. The caller decides which keys it may open (a server: its own sets only)."""
    from dlviz.data import load_dataset

    key = bundle.dataset.get("key", "")
    if not key:
        raise UserError("this bundle does not say which dataset it was trained on; "
                        "training-data influence needs its training set")
    ds = load_dataset(key, DatasetParams.from_dict(bundle.dataset.get("params", {}), "the bundle"))
    if tuple(ds.input_shape) != tuple(bundle.spec.input_shape) or ds.output_size != bundle.spec.outputs:
        raise UserError(f"the dataset {key} no longer matches this model's input and outputs")
    return ds


def refuse_pickles(names: Iterable[str], where: str = "") -> None:
    """The one refusal of a pickled weights file, wherever it turns up: raises
    ``UserError`` naming the first of ``names`` (paths or file names) that is one.
    ``where`` ("the zip", "the folder") held it; "": it is a file given (a path, an upload)."""
    pickles = sorted(os.path.basename(n) for n in names if n.lower().endswith(PICKLE_SUFFIXES))
    if pickles:
        held = f"{where} holds {pickles[0]}, not {WEIGHTS_FILE}: " if where else ""
        raise UserError(f"not a model bundle: {held}{pickles[0]} is not accepted ({SAFETENSORS_ONLY})")


def load_bundle(path: str) -> Bundle:
    """From a bundle folder, or the zip the app downloads (``bundle_zip``)."""
    if os.path.isfile(path):
        refuse_pickles([path])
        if not zipfile.is_zipfile(path):
            raise UserError(f"not a model bundle: {path} is neither a folder nor a zip")
        if os.path.getsize(path) > 2 * MAX_WEIGHTS_BYTES + MAX_JSON_BYTES + MAX_METRICS_BYTES:
            raise UserError(f"{os.path.basename(path)} is larger than a model bundle may be")
        with open(path, "rb") as f:
            return bundle_from_zip(f.read())
    if not os.path.isdir(path):
        raise UserError(f"not a model bundle: {path} does not exist")
    mj, wf = os.path.join(path, MODEL_FILE), os.path.join(path, WEIGHTS_FILE)
    if not os.path.isfile(wf):
        refuse_pickles(os.listdir(path), "the folder")
    for f in (mj, wf):
        if not os.path.isfile(f):
            raise UserError(f"not a model bundle: {f} is missing")
    for f, cap in ((mj, MAX_JSON_BYTES), (wf, MAX_WEIGHTS_BYTES)):
        if os.path.getsize(f) > cap:
            raise UserError(f"{os.path.basename(f)} is larger than the {cap // 2**20} MiB limit")
    metrics = ""
    mf = os.path.join(path, METRICS_FILE)
    if os.path.isfile(mf) and os.path.getsize(mf) <= MAX_METRICS_BYTES:
        with open(mf) as fh:
            metrics = fh.read()
    ckpt, cf = b"", os.path.join(path, CHECKPOINTS_FILE)
    if os.path.isfile(cf):
        if os.path.getsize(cf) > MAX_WEIGHTS_BYTES:
            raise UserError(f"{CHECKPOINTS_FILE} is larger than the {MAX_WEIGHTS_BYTES // 2**20} MiB limit")
        with open(cf, "rb") as fc:
            ckpt = fc.read()
    with open(mj, "rb") as fj, open(wf, "rb") as fw:
        return bundle_from_bytes(fj.read(), fw.read(), metrics, ckpt)


def bundle_from_zip(data: bytes) -> Bundle:
    """From a zip holding model.json and weights.safetensors (at the top, or in one folder).

    Sizes are checked on the zip's directory before anything is inflated, and
    each member is read with a cap, so a lying header cannot inflate more.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = [i for i in zf.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError):
        raise UserError("not a model bundle: the zip file is damaged") from None
    by_name = {}
    for info in infos:
        base = info.filename.replace("\\", "/").rsplit("/", 1)[-1]
        if base.startswith(".") or info.filename.startswith("__MACOSX"):
            continue
        by_name.setdefault(base, info)
    if WEIGHTS_FILE not in by_name:
        refuse_pickles(by_name, "the zip")
    for name in (MODEL_FILE, WEIGHTS_FILE):
        if name not in by_name:
            raise UserError(f"not a model bundle: the zip has no {name}")

    def read(name: str, cap: int) -> bytes:
        info = by_name[name]
        if info.file_size > cap:
            raise UserError(f"{name} is larger than the {cap // 2**20} MiB limit")
        try:
            with zf.open(info) as fh:
                out = fh.read(cap + 1)
        except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError) as e:
            raise UserError(f"cannot read {name} from the zip ({e})") from None
        if len(out) > cap:
            raise UserError(f"{name} is larger than the {cap // 2**20} MiB limit")
        return out

    metrics = ""
    if METRICS_FILE in by_name and by_name[METRICS_FILE].file_size <= MAX_METRICS_BYTES:
        metrics = read(METRICS_FILE, MAX_METRICS_BYTES).decode("utf-8", "replace")
    ckpt = read(CHECKPOINTS_FILE, MAX_WEIGHTS_BYTES) if CHECKPOINTS_FILE in by_name else b""
    return bundle_from_bytes(read(MODEL_FILE, MAX_JSON_BYTES), read(WEIGHTS_FILE, MAX_WEIGHTS_BYTES),
                             metrics, ckpt)


def bundle_from_files(files: dict[str, bytes]) -> Bundle:
    """From uploaded files {name: bytes}: the zip ``bundle_zip`` makes, or model.json and
    weights.safetensors. Any pickle among them is refused before anything is read."""
    refuse_pickles(files)
    zips = [n for n in files if n.lower().endswith(".zip")]
    if zips:
        if len(files) > 1:
            raise UserError("upload either the zip or the two files, not both")
        return bundle_from_zip(files[zips[0]])
    jsons = [n for n in files if n.lower().endswith(".json")]
    ckpts = [n for n in files if os.path.basename(n) == CHECKPOINTS_FILE]
    weights = [n for n in files if n.lower().endswith(".safetensors") and n not in ckpts]
    if len(jsons) != 1 or len(weights) != 1:
        raise UserError(f"a model needs exactly one {MODEL_FILE} and one {WEIGHTS_FILE}")
    return bundle_from_bytes(files[jsons[0]], files[weights[0]], "", files[ckpts[0]] if ckpts else b"")


def _looks_pickled(data: bytes) -> bool:
    """A pickle starts with PROTO (0x80, protocol 2..5); torch.save's default
    format is a zip holding one (``archive/data.pkl``)."""
    return (len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5) or data[:4] == b"PK\x03\x04"


def bundle_from_bytes(model_json: bytes, weights: bytes, metrics_csv: str = "",
                      checkpoints: bytes = b"") -> Bundle:
    """From the files' contents (an upload); every check happens here."""
    if len(model_json) > MAX_JSON_BYTES or len(weights) > MAX_WEIGHTS_BYTES or len(checkpoints) > MAX_WEIGHTS_BYTES:
        raise UserError(f"model files are too large (limits: {MAX_JSON_BYTES // 2**20} MiB spec, "
                        f"{MAX_WEIGHTS_BYTES // 2**20} MiB weights)")
    try:
        meta = load_json(model_json)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UserError(f"{MODEL_FILE} is not valid JSON") from None
    except UserError as e:
        raise UserError(f"{MODEL_FILE}: {e}") from None
    if not isinstance(meta, dict) or "spec" not in meta:
        raise UserError(f"{MODEL_FILE} has no network spec")
    for part in ("dataset", "train", "final"):
        if not isinstance(meta.get(part, {}), dict):
            raise UserError(f"{MODEL_FILE}: '{part}' must be an object, got {meta[part]!r:.40}")
    if _looks_pickled(weights):
        raise UserError(f"{WEIGHTS_FILE} is not a valid safetensors file but a Python pickle "
                        f"({SAFETENSORS_ONLY})")
    spec = NetSpec.from_dict(meta["spec"])
    net = build(spec, "meta")                # validates the spec without allocating
    dataset = check_dataset_info(meta.get("dataset", {}), spec)
    train = meta.get("train", {})
    try:
        TrainConfig.from_dict(train)
    except UserError as e:
        raise UserError(f"{MODEL_FILE}: {e}") from None
    expected = net.model.state_dict()
    tensors = weights_from_bytes(weights, WEIGHTS_FILE)
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        what = f"missing {missing[0]}" if missing else f"unexpected {extra[0]}"
        raise UserError(f"the weights do not match the network ({what}; "
                        f"{len(missing)} missing, {len(extra)} unexpected)")
    for k, t in tensors.items():
        e = expected[k]
        if tuple(t.shape) != tuple(e.shape):
            raise UserError(f"weight {k} has shape {list(t.shape)}, the network needs {list(e.shape)}")
        if t.dtype != e.dtype:
            raise UserError(f"weight {k} is {t.dtype}, the network needs {e.dtype}")
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise UserError(f"weight {k} holds NaN or infinite values")
    final = {k: v for k, v in meta.get("final", {}).items() if is_number(v)}
    kept = checkpoints_from_bytes(checkpoints, expected) if checkpoints else []
    return Bundle(spec, tensors, dataset, train, final, metrics_csv, kept)


_DATASET_FIELDS = {"key", "task", "classes", "input_shape", "features", "norm_mean", "norm_std", "params"}


def check_dataset_info(info: dict, spec: NetSpec) -> dict:
    """``dataset_info``'s fields, each typed and matching the network; raises
    ``UserError`` naming the field. Every field is optional (an older bundle)."""
    unknown = set(info) - _DATASET_FIELDS
    if unknown:
        raise _bad_info(sorted(map(str, unknown))[0], "is not a dataset field of a bundle")
    key = info.get("key", "")
    if not isinstance(key, str) or len(key) > MAX_DATASET_KEY_CHARS:
        raise _bad_info("key", f"must be a dataset name, got {key!r:.40}")
    if info.get("task", spec.task) != spec.task:
        raise _bad_info("task", f"is {info['task']!r:.40} but the network is for {spec.task}")
    shape = info.get("input_shape", list(spec.input_shape))
    if not isinstance(shape, list) or shape != list(spec.input_shape):
        raise _bad_info("input_shape", f"is {shape!r:.40} but the network takes {list(spec.input_shape)}")
    _check_classes(info.get("classes", []), spec)
    _check_features(info.get("features", []), spec)
    _check_norm(info, spec)
    if "params" in info:            # names here; the values are bounded when the dataset is built
        DatasetParams.from_dict(info["params"], MODEL_FILE)
    return info


def _check_classes(classes, spec: NetSpec) -> None:
    if not isinstance(classes, list) or not all(isinstance(c, str) and len(c) <= MAX_CLASS_NAME_CHARS
                                                for c in classes):
        raise _bad_info("classes", f"must be a list of class names, got {classes!r:.40}")
    need = spec.outputs if spec.task == "classification" else 0
    if classes and len(classes) != need:
        raise _bad_info("classes", f"names {len(classes)} classes but the network has {need}")


def _check_features(features, spec: NetSpec) -> None:
    if not isinstance(features, list) or not all(isinstance(f, str) and f in FEATURES for f in features):
        raise _bad_info("features", f"must be a list of names from {', '.join(FEATURES)}, "
                                    f"got {features!r:.40}")
    if features and (len(spec.input_shape) != 1 or len(features) != spec.input_shape[0]):
        raise _bad_info("features", f"names {len(features)} inputs but the network takes "
                                    f"{list(spec.input_shape)}")


def _check_norm(info: dict, spec: NetSpec) -> None:
    # per channel (images) or per feature; one value stands for all of them
    lengths = {0, 1, spec.input_shape[0]}
    for name in ("norm_mean", "norm_std"):
        v = info.get(name, [])
        if not isinstance(v, list) or not all(is_number(x) and abs(x) <= MAX_NORM_VALUE for x in v):
            raise _bad_info(name, f"must be a list of numbers from -{MAX_NORM_VALUE:g} to "
                                  f"{MAX_NORM_VALUE:g}, got {v!r:.40}")
        if len(v) not in lengths:
            raise _bad_info(name, f"has {len(v)} values but the input has {spec.input_shape[0]} "
                                  f"channels")
    if any(x <= 0 for x in info.get("norm_std", [])):
        raise _bad_info("norm_std", "must be positive (it divides the input)")


def _bad_info(name: str, problem: str) -> UserError:
    return UserError(f"{MODEL_FILE}: dataset field '{name}' {problem}")


def bundle_zip(bundle: Bundle) -> bytes:
    """The bundle's three files in one zip, for a browser download."""
    import tempfile
    import zipfile
    buf = io.BytesIO()
    with tempfile.TemporaryDirectory() as d:
        save_bundle(bundle, d)
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for name in (MODEL_FILE, WEIGHTS_FILE, METRICS_FILE, CHECKPOINTS_FILE):
                if os.path.exists(os.path.join(d, name)):
                    z.write(os.path.join(d, name), name)
    return buf.getvalue()
