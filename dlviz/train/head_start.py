"""A head start (transfer learning): a new run's layers start from trained weights.

The spec's ``HeadStart`` (``dlviz/spec_head_start.py``) names the weights by
their SHA-256; the tensors themselves wait in a small store on this machine's
disk (``put_weights`` / ``load_weights``), because the run trains in a worker
process that sees the spec, not the server's runs (docs/ARCHITECTURE.md, "One
run, from a click to a picture"). The page puts a finished run's or an
uploaded bundle's weights there when the user picks them; the worker's
``TrainingLoop`` calls ``apply_head_start`` on the model it has just built.

What is copied, layer by layer in forward order (``plan_head_start``):

* a module whose tensors all exist in the source under the same names
  (conv1.weight, conv1.bias) with the same shapes is copied;
* the first weighted layer may differ in its input channels only (a grayscale
  network on RGB images, or back): its kernels are spread over the channels
  (``w / C`` per channel) or summed, the usual adaptation, so it answers a grey
  image as before;
* the first layer that does not fit (the output layer of a new set of classes,
  a dense layer after a different image size) is fresh, and so is every layer
  after it: a layer fed by freshly initialised units would be copying weights
  tuned to inputs it no longer gets.

Frozen layers keep their copied parameters: ``requires_grad`` is turned off
and the optimizer is given only the parameters that train (``train/loop.py``),
so neither momentum nor weight decay moves them. A frozen batch norm also
keeps its running statistics (its momentum is set to 0); in training mode it
still normalises by the batch, as batch norm does.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass

import torch
from torch import nn

from dlviz.build import BuiltNet, build
from dlviz.errors import UserError
from dlviz.spec import HeadStart, NetSpec
from dlviz.train.history import MAX_WEIGHTS_BYTES, weights_bytes, weights_from_bytes

STORE_BASE: str | None = None      # tests point this elsewhere; None: <temp>/dlviz-head-start
MAX_STORED = 32                    # weight files kept; the least recently used go first
SUFFIX = ".safetensors"


# -- the store ------------------------------------------------------------------------------

def store_dir() -> str:
    return STORE_BASE or os.path.join(tempfile.gettempdir(), "dlviz-head-start")


def _path(digest: str) -> str:
    # the digest was checked by HeadStart.from_dict (64 hex digits): never a path of its own
    if not (isinstance(digest, str) and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)):
        raise UserError("a head start's weights are named by a SHA-256 digest")
    return os.path.join(store_dir(), digest + SUFFIX)


def put_weights(weights: dict[str, torch.Tensor]) -> str:
    """Keep ``weights`` (a state dict) in the store; returns their SHA-256 (the file's name)."""
    data = weights_bytes(weights)
    if len(data) > MAX_WEIGHTS_BYTES:
        raise UserError(f"these weights are {len(data) / 2**20:.0f} MiB, over the "
                        f"{MAX_WEIGHTS_BYTES // 2**20} MiB limit for a head start")
    digest = hashlib.sha256(data).hexdigest()
    path = _path(digest)
    os.makedirs(store_dir(), exist_ok=True)
    if os.path.isfile(path):
        os.utime(path)
    else:
        part = f"{path}.{os.getpid()}.part"          # written whole, then renamed into place
        with open(part, "wb") as f:
            f.write(data)
        os.replace(part, path)
    _prune(keep=path)
    return digest


def has_weights(digest: str) -> bool:
    try:
        return os.path.isfile(_path(digest))
    except UserError:
        return False


def load_weights(digest: str, source: str = "") -> dict[str, torch.Tensor]:
    """The stored weights named ``digest``; ``UserError`` when they are gone or damaged."""
    path = _path(digest)
    what = f"the head start's weights ({source})" if source else "the head start's weights"
    try:
        size = os.path.getsize(path)
    except OSError:
        raise UserError(f"{what} are no longer on this server; choose the head start again "
                        f"on the Train page") from None
    if size > MAX_WEIGHTS_BYTES:
        raise UserError(f"{what} are larger than the {MAX_WEIGHTS_BYTES // 2**20} MiB limit")
    with open(path, "rb") as f:
        data = f.read(MAX_WEIGHTS_BYTES + 1)
    if hashlib.sha256(data).hexdigest() != digest:
        raise UserError(f"{what} on this server are damaged (their digest does not match)")
    try:
        os.utime(path)                                # in use: pruned last
    except OSError:
        pass
    tensors = weights_from_bytes(data, what)
    for k, t in tensors.items():
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise UserError(f"{what}: {k} holds NaN or infinite values")
    return tensors


def _prune(keep: str) -> None:
    try:
        files = [os.path.join(store_dir(), n) for n in os.listdir(store_dir()) if n.endswith(SUFFIX)]
        files.sort(key=lambda p: os.stat(p).st_mtime, reverse=True)
    except OSError:
        return
    for p in files[MAX_STORED:]:
        if p != keep:
            try:
                os.remove(p)
            except OSError:
                pass


# -- what is copied -------------------------------------------------------------------------

@dataclass(frozen=True)
class HeadStartReport:
    source: str
    copied: tuple[str, ...]              # modules whose tensors were copied (adapted ones included)
    adapted: tuple[str, ...]             # "conv1 (1 to 3 input channels)"
    fresh: tuple[tuple[str, str], ...]   # (module, why it starts from random weights)
    frozen: tuple[str, ...]
    tensors: int                         # tensors copied (weights, biases, batch-norm statistics)

    def text(self) -> str:
        """"copied 4 tensors (conv1, conv2) from run Ab3d · fresh: dense1 (...), output · frozen: conv1"."""
        kind, _, what = self.source.partition(":")
        what = what[:4] if kind == "run" else what           # a run is named by 4 characters of its id
        parts = [f"copied {self.tensors} tensor{'s' if self.tensors != 1 else ''} "
                 f"({', '.join(self.copied)}) from {kind} {what}"]
        if self.adapted:
            parts.append("adapted: " + ", ".join(self.adapted))
        if self.fresh:
            parts.append("fresh: " + ", ".join(f"{m} ({why})" if why else m for m, why in self.fresh))
        parts.append("frozen: " + ", ".join(self.frozen) if self.frozen else "nothing frozen")
        return " · ".join(parts)


@dataclass(frozen=True)
class _Plan:
    report: HeadStartReport
    tensors: dict[str, torch.Tensor]     # target state-dict key -> the value to copy in (adapted)


def weighted_modules(net: BuiltNet) -> list[str]:
    """The top-level modules with tensors (parameters or buffers), in forward order."""
    mods = dict(net.model.named_children())
    return [n for n in net.module_names if mods[n].state_dict()]


def _adapt_channels(src: torch.Tensor, want: tuple[int, ...]) -> torch.Tensor | None:
    """A conv kernel (O, C, k, k) for ``want``'s input channels, from 1 channel or to 1; else None."""
    if src.dim() != 4 or len(want) != 4 or src.shape[0] != want[0] or tuple(src.shape[2:]) != want[2:]:
        return None
    c_src, c_want = src.shape[1], want[1]
    if c_src == 1:                       # grey -> C channels: each sees the kernel / C
        return src.repeat(1, c_want, 1, 1) / c_want
    if c_want == 1:                      # C channels -> grey: the kernels summed
        return src.sum(dim=1, keepdim=True)
    return None


def _plan(net: BuiltNet, source: dict[str, torch.Tensor], head: HeadStart) -> _Plan:
    mods = dict(net.model.named_children())
    weighted = weighted_modules(net)
    copied, adapted, fresh, tensors = [], [], [], {}
    broken = ""
    for i, name in enumerate(weighted):
        target = {f"{name}.{k}": v for k, v in mods[name].state_dict().items()}
        if broken:
            fresh.append((name, f"after {broken}"))
            continue
        why, take = "", {}
        for k, t in target.items():
            s = source.get(k)
            if s is None:
                why = "not in the head start"
                break
            if s.dtype != t.dtype:
                why = f"{k} is {s.dtype} there"
                break
            if tuple(s.shape) == tuple(t.shape):
                take[k] = s
                continue
            a = _adapt_channels(s, tuple(t.shape)) if i == 0 and k.endswith(".weight") else None
            if a is None:
                why = f"{k.split('.', 1)[1]} is {'x'.join(map(str, s.shape))} there, " \
                      f"{'x'.join(map(str, t.shape))} here"
                break
            take[k] = a
            adapted.append(f"{name} ({s.shape[1]} to {t.shape[1]} input channels)")
        if why:
            fresh.append((name, why))
            broken = name
            continue
        copied.append(name)
        tensors.update(take)
    if not copied:
        first = f"{fresh[0][0]}: {fresh[0][1]}" if fresh else "this network has no weights"
        raise UserError(f"nothing of the head start fits this network ({first})")
    names = set(net.module_names)
    for n in head.frozen:
        if n not in names:
            raise UserError(f"head start: this network has no layer {n} (its weighted layers: "
                            f"{', '.join(weighted)})")
        if n not in weighted:
            raise UserError(f"head start: {n} has no weights to freeze")
        if n not in copied:
            raise UserError(f"head start: {n} is not copied from the head start, so freezing it "
                            f"would keep its random weights")
    report = HeadStartReport(head.source, tuple(copied), tuple(adapted), tuple(fresh),
                             tuple(n for n in weighted if n in head.frozen), len(tensors))
    return _Plan(report, tensors)


def plan_head_start(spec: NetSpec, source: dict[str, torch.Tensor],
                    frozen: tuple[str, ...] = (), label: str = "run:?") -> HeadStartReport:
    """What a head start from ``source`` would copy into ``spec``'s network, allocating no
    weights (the network is built on the ``meta`` device); ``UserError`` as applying would."""
    head = HeadStart(label, "0" * 64, tuple(frozen))
    return _plan(build(spec, "meta"), source, head).report


def apply_head_start(net: BuiltNet, head: HeadStart,
                     source: dict[str, torch.Tensor] | None = None) -> HeadStartReport:
    """Copy ``source`` (default: the stored weights ``head.weights``) into ``net``'s model in
    place, freeze ``head.frozen``, and say what was done."""
    if source is None:
        source = load_weights(head.weights, head.source)
    plan = _plan(net, source, head)
    state = net.model.state_dict()                      # shares storage with the parameters
    with torch.no_grad():
        for k, v in plan.tensors.items():
            state[k].copy_(v.to(device=state[k].device, dtype=state[k].dtype))
    mods = dict(net.model.named_children())
    for name in plan.report.frozen:
        for p in mods[name].parameters():
            p.requires_grad_(False)
        for m in mods[name].modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.momentum = 0.0                        # running = 1 * running + 0 * batch
    return plan.report


def trainable(model: nn.Module) -> list[nn.Parameter]:
    """The parameters an optimizer may move: frozen ones left out."""
    return [p for p in model.parameters() if p.requires_grad]
