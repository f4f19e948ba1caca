"""The checks lessons run on a student's own runs: pure functions of ``Work``.

A check is built from small requirements on the student's newest run
(``Need``: RunFacts -> (met?, what was measured or what is missing)), or
looks across their runs (a narrower gap than the run before, one run per
training-set size). Each result says what it measured, so a passed check
reads "test accuracy 97% (needed 95%)" and a failed one says what is still
missing. Checks that compute on the model are in ``model_checks.py``.
"""

from __future__ import annotations

from statistics import median
from typing import Callable

from dlviz.lessons.facts import RELU_FAMILY, SQUASHING, RunFacts, Work
from dlviz.lessons.lesson import Check, CheckResult

Need = Callable[[RunFacts], tuple[bool, str]]

NO_RUN = "No run yet: press **Start** on the Train page."


def pct(v: float | None) -> str:
    return "no result yet" if v is None else f"{100 * v:.0f}%"


def _wrong_data(run: RunFacts, dataset: str) -> str:
    return (f"Your newest run is on **{run.dataset_key}**; this step needs one on **{dataset}** "
            f"(press **Set up** to load the lesson's data).")


def _latest_on(work: Work, dataset: str) -> tuple[RunFacts | None, CheckResult | None]:
    """The student's newest run, or why a check cannot look at it (none yet, other data)."""
    run = work.latest
    if run is None:
        return None, CheckResult(False, NO_RUN)
    if run.dataset_key != dataset:
        return run, CheckResult(False, _wrong_data(run, dataset))
    return run, None


def after(base: Check, then: Callable[[CheckResult, RunFacts, Work], CheckResult]
          ) -> Callable[[Work], CheckResult]:
    """A check's function that asks ``then(base's result, newest run, work)`` only once
    ``base`` passes on ``work`` (else it answers what ``base`` said)."""
    def fn(work: Work) -> CheckResult:
        first = base(work)
        return then(first, work.latest, work) if first.passed else first
    return fn


def on_latest(goal: str, dataset: str, *needs: Need) -> Check:
    """Passes when the student's newest run is on ``dataset`` and meets every need."""
    def fn(work: Work) -> CheckResult:
        run, refused = _latest_on(work, dataset)
        if refused is not None:
            return refused
        said = []
        for need in needs:
            ok, text = need(run)
            if not ok:
                return CheckResult(False, text)
            said.append(text)
        return CheckResult(True, "; ".join(t for t in said if t))
    return Check(goal, fn)


# -- requirements on one run ------------------------------------------------------------

def ended() -> Need:
    return lambda r: (True, "") if r.ended else (False, f"Your run is still **{r.state.status}**: "
                                                        "wait until it ends.")


def accuracy_at_least(target: float) -> Need:
    def need(r: RunFacts) -> tuple[bool, str]:
        acc = r.test_accuracy
        if acc is not None and acc >= target:
            return True, f"test accuracy {pct(acc)} (needed {pct(target)})"
        so_far = "so far" if not r.ended else "at the end"
        return False, f"Test accuracy {pct(acc)} {so_far}; it needs to reach {pct(target)}."
    return need


def accuracy_below(limit: float) -> Need:
    def need(r: RunFacts) -> tuple[bool, str]:
        acc = r.test_accuracy
        if not r.ended:
            return False, f"Your run is still **{r.state.status}**: wait until it ends."
        if acc is not None and acc < limit:
            return True, f"test accuracy only {pct(acc)}"
        return False, f"Test accuracy {pct(acc)}: this step expects a network that fails (under {pct(limit)})."
    return need


def train_accuracy_at_least(target: float) -> Need:
    def need(r: RunFacts) -> tuple[bool, str]:
        acc = r.train_accuracy
        if acc is not None and acc >= target:
            return True, f"training accuracy {pct(acc)}"
        return False, f"Training accuracy {pct(acc)}; it needs to reach {pct(target)}."
    return need


def hidden(at_least: int = 0, at_most: int | None = None) -> Need:
    def need(r: RunFacts) -> tuple[bool, str]:
        n = r.hidden_layers
        if n < at_least:
            return False, f"Your network has {n} hidden layer{'s' if n != 1 else ''}; this step needs {at_least} or more."
        if at_most is not None and n > at_most:
            return False, f"Your network has {n} hidden layers; this step needs at most {at_most}."
        return True, f"{n} hidden layer{'s' if n != 1 else ''}"
    return need


def conv_layers(at_least: int = 1) -> Need:
    return lambda r: (r.conv_layers >= at_least,
                      f"{r.conv_layers} convolution layers" if r.conv_layers >= at_least
                      else f"This step needs a network with {at_least}+ convolution layers.")


def raw_features() -> Need:
    return lambda r: ((True, "inputs x1 and x2 only") if set(r.features) <= {"x1", "x2"}
                      else (False, f"Your inputs are {', '.join(r.features)}: keep only x1 and x2."))


def engineered_features() -> Need:
    return lambda r: ((True, f"hand-made inputs {', '.join(f for f in r.features if f not in ('x1', 'x2'))}")
                      if set(r.features) - {"x1", "x2"}
                      else (False, "Your inputs are only x1 and x2: this step needs hand-made ones "
                                   "(x1², sin x1, ...)."))


def activations_in(family: tuple[str, ...], name: str) -> Need:
    def need(r: RunFacts) -> tuple[bool, str]:
        acts = r.activations
        if acts and acts <= set(family):
            return True, f"{'/'.join(sorted(acts))} activations"
        other = sorted(acts - set(family)) or ["none"]
        return False, f"Every hidden layer needs a {name} activation; yours has {', '.join(other)}."
    return need


def lr_at_least(lr: float) -> Need:
    return lambda r: ((True, f"learning rate {r.config.lr:g}") if r.config.lr >= lr else
                      (False, f"Your learning rate is {r.config.lr:g}; set it to {lr:g} or more."))


def lr_at_most(lr: float) -> Need:
    return lambda r: ((True, f"learning rate {r.config.lr:g}") if r.config.lr <= lr else
                      (False, f"Your learning rate is {r.config.lr:g}; set it to {lr:g} or less."))


def blew_up() -> Need:
    """Diverged, or ended with a higher training loss than it started with."""
    def need(r: RunFacts) -> tuple[bool, str]:
        if r.state.status == "diverged":
            return True, "the run diverged"
        if not r.ended:
            return False, f"Your run is still **{r.state.status}**: wait until it ends."
        first, last = r.first_loss, r.last_loss
        if first is not None and last is not None and last > first:
            return True, f"the loss rose from {first:.2f} to {last:.2f}"
        return False, "The loss went down: this run learned. Make the learning rate larger."
    return need


def overfits(gap: float) -> Need:
    def need(r: RunFacts) -> tuple[bool, str]:
        tr, te = r.train_accuracy, r.test_accuracy
        if not r.ended:
            return False, f"Your run is still **{r.state.status}**: wait until it ends."
        if tr is not None and te is not None and tr - te >= gap:
            return True, f"training {pct(tr)} but test {pct(te)}"
        return False, f"Training {pct(tr)}, test {pct(te)}: no gap of {pct(gap)} yet."
    return need


def regularised() -> Need:
    return lambda r: ((True, _regularisation(r)) if r.regularised else
                      (False, "This run has no regularisation: set L2 weight decay (or L1) above 0, "
                              "or add a dropout layer."))


def _regularisation(r: RunFacts) -> str:
    parts = [f"L2 {r.config.weight_decay:g}" if r.config.weight_decay else "",
             f"L1 {r.config.l1:g}" if r.config.l1 else "", "dropout" if r.has_dropout else ""]
    return "with " + ", ".join(p for p in parts if p)


# -- layer health ------------------------------------------------------------------------

def early_gradient_ratio(r: RunFacts) -> float | None:
    """Median over the first half of training's health records of the first hidden layer's
    gradient norm / the last hidden layer's (1: gradients arrive whole; 1e-4: they vanish)."""
    rows = r.state.health
    if not rows:
        return None
    last_step = max(row["step"] for row in rows)
    early = [row for row in rows if row["step"] <= max(last_step / 2, rows[0]["step"])]
    ratios = []
    for row in early:
        layers = [n for n, m in row["layers"].items() if "grad_norm" in m and n != "output"]
        if len(layers) >= 2:
            first, last = row["layers"][layers[0]]["grad_norm"], row["layers"][layers[-1]]["grad_norm"]
            ratios.append(first / max(last, 1e-30))
    return median(ratios) if ratios else None


def gradients_vanish(below: float) -> Need:
    def need(r: RunFacts) -> tuple[bool, str]:
        q = early_gradient_ratio(r)
        if q is None:
            return False, "No layer health yet: it appears after the first steps (and needs 2+ hidden layers)."
        if q < below:
            return True, f"the first layer gets {1 / max(q, 1e-30):,.0f}x smaller gradients than the last"
        return False, f"The first layer's gradient is {q:.2g}x the last one's: they do not vanish."
    return need


def gradients_flow(at_least: float) -> Need:
    def need(r: RunFacts) -> tuple[bool, str]:
        q = early_gradient_ratio(r)
        if q is None:
            return False, "No layer health yet: it appears after the first steps."
        if q >= at_least:
            return True, f"the first layer's gradient is {q:.2g}x the last one's"
        return False, f"The first layer still gets {1 / max(q, 1e-30):,.0f}x smaller gradients than the last."
    return need


# -- across runs -------------------------------------------------------------------------

def gap(r: RunFacts) -> float | None:
    tr, te = r.train_accuracy, r.test_accuracy
    return None if tr is None or te is None else tr - te


def gap_narrowed(dataset: str, by: float, otherwise_at_most: float) -> Check:
    """The newest run is regularised and its train-test gap is ``by`` narrower than the
    widest unregularised run's on the same data (or at most ``otherwise_at_most``)."""
    base = on_latest("", dataset, ended(), regularised())

    def then(first: CheckResult, run: RunFacts, work: Work) -> CheckResult:
        g = gap(run)
        plain = [gap(o) for o in work.runs[:-1] if o.dataset_key == dataset and not o.regularised
                 and o.ended and o.params_samples == run.params_samples and gap(o) is not None]
        if g is None:
            return CheckResult(False, "This run has no accuracy yet.")
        if plain:
            widest = max(plain)
            if g <= widest - by:
                return CheckResult(True, f"{first.text}: the gap shrank from {pct(widest)} to {pct(g)}")
            return CheckResult(False, f"The gap is {pct(g)}, the unregularised run's {pct(widest)}: "
                                      f"it should shrink by {pct(by)}. Try a stronger setting.")
        if g <= otherwise_at_most:
            return CheckResult(True, f"{first.text}: training and test differ by only {pct(g)}")
        return CheckResult(False, f"Training and test still differ by {pct(g)}.")
    return Check(f"regularisation narrows the train-test gap by {pct(by)}", after(base, then))


def same_setup_sizes(work: Work, dataset: str) -> dict[int, float]:
    """Test accuracy by training-set size, over the ended runs on ``dataset`` with the
    newest run's network and settings (one per size: the newest)."""
    run = work.latest
    if run is None:
        return {}
    out: dict[int, float] = {}
    for o in work.runs:
        if (o.dataset_key == dataset and o.ended and o.spec.layers == run.spec.layers
                and o.config == run.config and o.test_accuracy is not None):
            out[o.n_train] = o.test_accuracy
    return dict(sorted(out.items()))


def sizes_trained(dataset: str, count: int, margin: float = 0.0) -> Check:
    """``count`` training-set sizes trained with one network; with ``margin``, the largest
    beats the smallest by that much."""
    def fn(work: Work) -> CheckResult:
        run, refused = _latest_on(work, dataset)
        if refused is not None:
            return refused
        sizes = same_setup_sizes(work, dataset)
        said = ", ".join(f"{n:,} → {pct(a)}" for n, a in sizes.items())
        if len(sizes) < count:
            more = count - len(sizes)
            return CheckResult(False, f"{len(sizes)} size{'s' if len(sizes) != 1 else ''} trained so far "
                                      f"({said or 'none ended'}); {more} more to go.")
        small, large = sizes[min(sizes)], sizes[max(sizes)]
        if large - small < margin:
            return CheckResult(False, f"{said}: the largest set should beat the smallest by {pct(margin)}.")
        return CheckResult(True, f"training points → test accuracy: {said}")
    return Check(f"{count} training-set sizes with one network", fn)


def timeline_at(step: int | None) -> Check:
    """The newest run's timeline shows ``step`` (None: the newest moment)."""
    def fn(work: Work) -> CheckResult:
        run = work.latest
        if run is None:
            return CheckResult(False, NO_RUN)
        steps = [t["step"] for t in run.state.timeline]
        shown = work.viewed.get(run.run_id)
        at_end = shown is None or shown == -1 or (steps and shown == max(steps))
        if step is None:
            return CheckResult(True, "the timeline is at the end of training") if at_end else \
                CheckResult(False, f"The timeline shows step {shown:,}: press **Back to the end**.")
        if shown == step:
            return CheckResult(True, f"the timeline shows step {step:,}")
        where = "the end of training" if at_end else f"step {shown:,}"
        return CheckResult(False, f"The timeline shows {where}: move it to step {step:,}.")
    return Check("the timeline position", fn)


__all__ = ["on_latest", "ended", "accuracy_at_least", "accuracy_below", "train_accuracy_at_least",
           "hidden", "conv_layers", "raw_features", "engineered_features", "activations_in",
           "lr_at_least", "lr_at_most", "blew_up", "overfits", "regularised", "gradients_vanish",
           "gradients_flow", "gap_narrowed", "sizes_trained", "timeline_at", "same_setup_sizes",
           "early_gradient_ratio", "RELU_FAMILY", "SQUASHING", "pct"]
