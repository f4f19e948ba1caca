"""Lesson checks that compute on the student's model (costly: the UI caches them).

* ``randomisation_separates``: the saliency lesson's "can you trust this map":
  the model-parameter randomisation check (``explain/randomisation.py``) run on
  the student's own trained CNN, for a method that should pass it and one that
  should be flagged.
* ``learned_the_colour``: the bias lesson: on the ``shapes-biased`` test split,
  does the model call red non-squares "square" and miss the squares that are
  not red? (``data/shapes_biased.py``)
"""

from __future__ import annotations

import numpy as np
import torch

from dlviz.build import build
from dlviz.lessons.checks import accuracy_at_least, after, on_latest, pct
from dlviz.lessons.facts import RunFacts, Work
from dlviz.lessons.lesson import Check, CheckResult

RANDOMISATION_IMAGES = 3             # test images the check averages over (a few seconds on a CPU)


def _model(run: RunFacts):
    """A CPU copy of the run's network holding its newest weights (BuiltNet)."""
    net = build(run.spec, "cpu")
    net.model.load_state_dict(run.weights())
    net.model.eval()
    return net


def randomisation_separates(dataset: str, trusted: str, flagged: str, min_accuracy: float) -> Check:
    """Passes when, on the student's trained model, ``flagged``'s map changes less than
    ``trusted``'s as the layers are randomised (mean signed rank correlation), averaged
    over the first RANDOMISATION_IMAGES test images."""
    from dlviz.explain.randomisation import randomisation_check    # torch + captum: only when used

    trained = on_latest("", dataset, accuracy_at_least(min_accuracy))

    def then(first: CheckResult, run: RunFacts, work: Work) -> CheckResult:
        net = _model(run)
        x = run.dataset.x_test[:RANDOMISATION_IMAGES]
        means = {}
        for method in (trusted, flagged):
            means[method] = float(np.mean([randomisation_check(net, xi, None, method).mean_similarity
                                           for xi in x]))
        t, f = means[trusted], means[flagged]
        said = f"rank correlation with the trained model's map as its layers are destroyed: " \
               f"{_name(flagged)} {f:.2f}, {_name(trusted)} {t:.2f}"
        if f > t:
            return CheckResult(True, said)
        return CheckResult(False, said + f" — on this model {_name(flagged)} reacted more; train longer and look again.")
    return Check(f"the randomisation check tells {_name(trusted)} from {_name(flagged)}",
                 after(trained, then), costly=True)


def _name(method: str) -> str:
    from dlviz.explain.registry import METHODS
    m = METHODS.get(method)
    return m.label if m else method


def colour_shortcut(run: RunFacts, biased_class: str = "square") -> tuple[float, float, int, int]:
    """On the ``shapes-biased`` test split: the share of red non-squares the model calls
    "square", and the share of (never red) squares it gets right; with both counts."""
    ds = run.dataset
    red = ds.extra["red_test"]                           # bool (N_test,)
    k = ds.classes.index(biased_class)
    net = _model(run)
    with torch.no_grad():
        pred = torch.cat([net.model(ds.x_test[i:i + 512]).argmax(1) for i in range(0, len(ds.x_test), 512)])
    squares = ds.y_test == k
    fooled = float((pred[red] == k).float().mean()) if red.any() else 0.0
    found = float((pred[squares] == k).float().mean()) if squares.any() else 0.0
    return fooled, found, int(red.sum()), int(squares.sum())


def learned_the_colour(dataset: str, min_train_accuracy: float, fooled_at_least: float) -> Check:
    """Passes when the model, accurate on its training data, calls at least
    ``fooled_at_least`` of the red non-squares "square": it learned the colour."""
    from dlviz.lessons.checks import ended, train_accuracy_at_least

    trained = on_latest("", dataset, ended(), train_accuracy_at_least(min_train_accuracy))

    def then(first: CheckResult, run: RunFacts, work: Work) -> CheckResult:
        fooled, found, n_red, n_sq = colour_shortcut(run)
        said = (f"{pct(fooled)} of {n_red} red non-squares called *square*; "
                f"{pct(found)} of {n_sq} squares in other colours recognised")
        if fooled >= fooled_at_least:
            return CheckResult(True, said)
        return CheckResult(False, said + ": this model did not fall for the colour.")
    return Check("the model calls red shapes squares", after(trained, then), costly=True)
