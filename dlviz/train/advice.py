"""Plain-language warnings about a run, with what to try.

Reads only a ``TrainerState`` (the UI's copy), so it works the same on a live
run, a finished one, or any moment of the timeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median

from dlviz.train.state import TrainerState

VANISH_RATIO = 1e-3       # first layer's gradient vs the last hidden layer's
EXPLODE_GRAD = 1e3
THRASH_UPDATE = 0.1       # ||dW|| / ||W|| per step: weights change by 10% a step
FROZEN_UPDATE = 1e-6
UNHEALTHY_UNITS = 0.5
OVERFIT_GAP = 0.10
RECENT_SHARE = 0.1        # "recent": the last tenth of the steps so far (and at most `recent` records)


@dataclass(frozen=True)
class Advice:
    level: str        # "error" | "warning" | "info"
    title: str
    text: str


def diagnose(state: TrainerState, recent: int = 5) -> list[Advice]:
    out: list[Advice] = []
    if state.status == "diverged":
        out.append(Advice("error", "The loss diverged", state.message +
                          " Large steps overshoot the minimum until numbers overflow; "
                          "a smaller learning rate or batch norm usually fixes it."))
    if state.status == "error":
        out.append(Advice("error", "Training failed", state.message))
    rows = recent_rows(state.health, recent)
    if rows:
        out += _gradients(rows) + _units(rows)
    out += _overfitting(state)
    return out


def recent_rows(health: list[dict], recent: int = 5) -> list[dict]:
    """The last ``recent`` health records that are also recent in steps (within the
    last ``RECENT_SHARE`` of the steps so far), the newest always.

    A median over the last five records smooths a noisy measure when records are
    dense; when they are sparse (5 records over 3,300 steps) the same five reach
    back to the start of training, and 60% saturated units now would be outvoted
    by the healthy units of the first steps.
    """
    rows = list(health[-recent:])
    if not rows:
        return rows
    last = rows[-1]["step"]
    since = last - RECENT_SHARE * last
    return [r for r in rows[:-1] if r["step"] >= since] + rows[-1:]


def _series(rows: list[dict], layer: str, metric: str) -> float | None:
    vals = [r["layers"][layer][metric] for r in rows
            if layer in r["layers"] and metric in r["layers"][layer]]
    return median(vals) if vals else None


def _gradients(rows: list[dict]) -> list[Advice]:
    layers = [n for n, m in rows[-1]["layers"].items() if "grad_norm" in m]
    hidden = [n for n in layers if n != "output"]
    out = []
    if len(hidden) >= 3:
        first, last = _series(rows, hidden[0], "grad_norm"), _series(rows, hidden[-1], "grad_norm")
        if first is not None and last and first / last < VANISH_RATIO:
            out.append(Advice(
                "warning", "Gradients vanish",
                f"The first layer ({hidden[0]}) gets gradients {last / max(first, 1e-30):,.0f} times "
                f"smaller than {hidden[-1]}, so it barely learns. Sigmoid and tanh shrink the "
                f"gradient at every layer; try relu, fewer layers, batch norm, or residual blocks."))
    for n in layers:
        g, u = _series(rows, n, "grad_norm"), _series(rows, n, "update_ratio")
        if (g is not None and g > EXPLODE_GRAD) or (u is not None and u > THRASH_UPDATE):
            out.append(Advice(
                "warning", "Gradients explode",
                f"Layer {n} changes by {100 * (u or 0):.0f}% of its size per step (gradient norm "
                f"{g:.3g}). Try a lower learning rate, gradient-friendly activations, or batch norm."))
            break
    frozen = [n for n in layers if (_series(rows, n, "update_ratio") or 1) < FROZEN_UPDATE]
    if frozen and rows[-1]["step"] > 50:
        out.append(Advice("info", "Some layers are not moving",
                          f"{', '.join(frozen)} change by less than one part in a million per step. "
                          f"That is fine once a run has converged; early on, raise the learning rate."))
    return out


# unit metric -> (title, what it means and what to try), for the share {pct} of units
_UNIT_ADVICE = {
    "dead": ("Dead units", "{pct}% of the units never fire on a batch; dead ReLUs get no gradient "
                           "and never recover. Try leaky_relu, a lower learning rate, or batch norm "
                           "before the activation."),
    "saturated": ("Saturated units", "{pct}% of the outputs sit at the flat ends of the curve, where "
                                     "the gradient is almost zero. Try normalised inputs, a lower "
                                     "learning rate, or relu."),
}


def _units(rows: list[dict]) -> list[Advice]:
    out = []
    for name, m in rows[-1]["layers"].items():
        for metric, (title, text) in _UNIT_ADVICE.items():
            v = _series(rows, name, metric) if metric in m else None
            if v is not None and v >= UNHEALTHY_UNITS:
                out.append(Advice("warning", f"{title} in {name}", text.format(pct=f"{100 * v:.0f}")))
    return out


def _overfitting(state: TrainerState) -> list[Advice]:
    ev = state.final or state.latest_eval()
    tr, te = ev.get("train_accuracy"), ev.get("test_accuracy")
    if tr is not None and te is not None and tr - te > OVERFIT_GAP and state.step > 100:
        return [Advice("info", "Overfitting",
                       f"Train accuracy {100 * tr:.0f}% vs test {100 * te:.0f}%: the network "
                       f"memorises the training set. Try dropout, weight decay, a smaller "
                       f"network, or more data.")]
    return []
