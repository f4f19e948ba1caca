"""Concept attribution: how much a human concept ("red", "outlined") matters for a class.

TCAV (Kim et al., 2018), computed by Captum's ``captum.concept.TCAV``. At a chosen
layer, a linear classifier separates the layer activations of a concept's examples
from those of a set of random examples; its weight vector is the concept activation
vector (CAV). The TCAV sign-count score of a class is the fraction of that class's
inputs whose class logit rises along the CAV (positive directional derivative).

One CAV depends on which random set it was trained against, so every concept is
scored against each of R random sets (R scores), and the same is done for random
sets against each other (random_i vs random_{i+1 mod R}: the null distribution of
scores a direction that means nothing gets). A two-sided t-test of the concept's R
scores against the R null scores says whether the concept means anything to the
class (Kim et al., section 3.2; Captum's TCAV tutorial). See docs/ARCHITECTURE.md,
"Concept attribution".

What the test is worth (measured on a small CNN trained on shapes-biased, see
tests/test_concepts.py): the planted colour (red for "square") scores 1.00 with
p ~ 1e-3 at every seed tried. The test treats a concept's R scores as independent,
but they share the concept's images, so it is optimistic: of 18 concepts made of
random training images (drawn like the random sets), 5 had p < 0.05 and 2 were
"significant" after the Bonferroni correction below. Random-pixel images ("noise")
are no null concept: they are perfectly separable at every layer and their direction
moves the class score, so they often come out significant. Read a significant score
of a concept with a CAV accuracy near 0.5 as noise.

Deterministic by construction: the CAV classifier is a closed-form ridge classifier
on a fixed held-out split (Captum's default classifier shuffles with python's global
``random`` and an unseeded SGD, so one request would give different answers from one
call to the next). Captum writes activations and CAVs to disk; they go into a private
temporary folder per call, removed afterwards. The caller's model is never touched:
TCAV runs on a private copy (hooks cleared, eval mode, no ``requires_grad``).
"""

from __future__ import annotations

import math
import tempfile
import time
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from dlviz.build import BuiltNet
from dlviz.data.concept_images import MAX_CONCEPT_IMAGES, MIN_CONCEPT_IMAGES
from dlviz.errors import UserError
from dlviz.explain.guard import private_copy
from dlviz.explain.influence import Checkpoint, pick_checkpoints

MAX_CONCEPTS = 8
MIN_RANDOM_SETS = 3            # fewer gives a null distribution of 1-2 scores: no test
MAX_RANDOM_SETS = 10
MAX_INPUTS = 200
MAX_SNAPSHOTS = 5
MAX_NAME_CHARS = 64
MAX_ACTIVATION_VALUES = 1 << 26  # layer values over all images (256 MB as float32, on disk and in the fit)
SIGNIFICANCE = 0.05
RIDGE_ALPHA = 1.0              # ridge penalty of the CAV classifier (closed form: no randomness)
HELD_OUT_EVERY = 3             # every 3rd example of each set is held out to measure the CAV
_BATCH = 64                    # concept images per forward pass when Captum records activations

__all__ = ["MAX_CONCEPTS", "MAX_CONCEPT_IMAGES", "MIN_CONCEPT_IMAGES", "MIN_RANDOM_SETS",
           "MAX_RANDOM_SETS", "MAX_INPUTS", "MAX_SNAPSHOTS", "SIGNIFICANCE", "ConceptScore",
           "ConceptResult", "tcav", "tcav_over_training", "concept_layers",
           "default_concept_layer"]


@dataclass(frozen=True)
class ConceptScore:
    """One concept's TCAV result for one class at one layer.

    ``significant`` is ``p_value < SIGNIFICANCE / number of concepts in the call``:
    Bonferroni-corrected over the concepts tested together, so asking about more
    concepts does not make a chance hit likelier. ``p_value`` itself is uncorrected.

    ``cav_accuracy`` is the held-out accuracy of the concept-vs-random classifiers
    (mean over the random sets). Near 0.5 the layer cannot tell the concept from
    random images, the CAV is a random direction and its score means nothing, whatever
    the test says; near 1.0 the concept is separable at this layer (which is not yet
    evidence that the class uses it: that is what the score and the test are for).
    A score below the random ones (``score`` < mean of ``random_scores``) that is
    significant means the concept pushes the class down. How far to trust the test:
    the module docstring.
    """
    name: str
    score: float          # mean sign-count score over the random sets, in [0, 1]
    spread: float         # sample std (ddof=1) of that score over the random sets
    p_value: float        # two-sided t-test, concept-vs-random against random-vs-random
    significant: bool     # p_value < SIGNIFICANCE / len(concepts) (Bonferroni)
    cav_accuracy: float   # mean held-out accuracy of the concept-vs-random classifiers


@dataclass(frozen=True)
class ConceptResult:
    layer: str
    target: int
    scores: tuple[ConceptScore, ...]     # in the order the concepts were given
    random_scores: tuple[float, ...]     # random-vs-random sign-count scores: the null distribution
    inputs: int
    seconds: float


# --------------------------------------------------------------------------- layers

def concept_layers(net: BuiltNet) -> list[str]:
    """Hidden modules TCAV may use, in forward order: every module but the head, those
    that only pass their input on (flatten, dropout: the activations of the module
    before them), and the last hidden module when only such modules lie between it and
    the head: the class logit is linear in that module's output, its gradient the same
    for every input, so every sign-count score there is exactly 0 or 1."""
    hidden = [r for r in net.records if r.role != "output"]
    kept = [r for r in hidden if not r.passthrough]
    if kept and all(r.passthrough for r in hidden[hidden.index(kept[-1]) + 1:]):
        kept = kept[:-1]
    return [r.name for r in kept]


def default_concept_layer(net: BuiltNet) -> str:
    """The activation of the last layer of learned maps (e.g. ``conv6_relu``): late
    enough to hold concepts like colour-on-a-shape, still spatial. An MLP: the last
    module ``concept_layers`` allows."""
    choices = concept_layers(net)
    if not choices:
        raise UserError("concept attribution needs a network with at least two hidden modules "
                        "(a layer and its activation will do)")
    maps = [g for g in net.layer_modules[:-1]
            if net.record(g[0]).learns_maps and len(net.record(g[0]).shape) == 3]
    if maps and maps[-1][-1] in choices:
        return maps[-1][-1]
    return choices[-1]


# --------------------------------------------------------------------------- TCAV

def tcav(net: BuiltNet | nn.Module, layer: str, target: int, inputs: torch.Tensor,
         concepts: dict[str, torch.Tensor], randoms: Sequence[torch.Tensor]) -> ConceptResult:
    """TCAV scores of ``concepts`` (name -> images (m, *input_shape), normalised like the
    training data) for class ``target`` at module ``layer``, over ``inputs`` (n, *input_shape):
    examples of that class. ``randoms``: MIN_RANDOM_SETS..MAX_RANDOM_SETS sets of random
    images, each (m, *input_shape). Raises ``UserError`` for anything out of bounds."""
    model = private_copy(_model_of(net))
    _check(net, model, layer, target, inputs, concepts, randoms)
    return _run(model, layer, int(target), inputs, concepts, randoms)


def tcav_over_training(net: BuiltNet | nn.Module, checkpoints: Sequence[Checkpoint], layer: str,
                       target: int, inputs: torch.Tensor, concepts: dict[str, torch.Tensor],
                       randoms: Sequence[torch.Tensor]) -> list[tuple[int, ConceptResult]]:
    """``tcav`` at up to MAX_SNAPSHOTS checkpoints ``(step, state_dict)``, evenly picked
    with the last always kept (the model being explained); in step order."""
    if not checkpoints:
        raise UserError("no snapshots to follow concept scores over training")
    model = private_copy(_model_of(net))
    _check(net, model, layer, target, inputs, concepts, randoms)
    out = []
    for step, state in sorted(pick_checkpoints(checkpoints, MAX_SNAPSHOTS), key=lambda c: c[0]):
        try:
            model.load_state_dict(state)
        except (RuntimeError, KeyError, TypeError) as e:
            raise UserError(f"snapshot at step {step} does not fit this network") from e
        out.append((int(step), _run(model, layer, int(target), inputs, concepts, randoms)))
    return out


def _run(model: nn.Module, layer: str, target: int, inputs: torch.Tensor,
         concepts: dict[str, torch.Tensor], randoms: Sequence[torch.Tensor]) -> ConceptResult:
    started = time.perf_counter()
    names, c, r = list(concepts), len(concepts), len(randoms)
    sets = [concepts[n] for n in names] + list(randoms)      # set index: concepts, then randoms
    pairs = [(i, c + j) for i in range(c) for j in range(r)]           # concept i vs random j
    null_pairs = [(c + j, c + (j + 1) % r) for j in range(r)]           # none mirrors another
    got = _pair_scores(model, layer, target, inputs, sets, pairs + null_pairs)
    null = [got[p][0] for p in null_pairs]
    scores = []
    for i, name in enumerate(names):
        mine = np.array([got[(i, c + j)] for j in range(r)])           # (r, 2): score, accuracy
        p_value = _p_value(mine[:, 0], np.array(null))
        scores.append(ConceptScore(name, float(mine[:, 0].mean()), float(mine[:, 0].std(ddof=1)),
                                   p_value, p_value < SIGNIFICANCE / c, float(mine[:, 1].mean())))
    return ConceptResult(layer, target, tuple(scores), tuple(null), len(inputs),
                         time.perf_counter() - started)


def _pair_scores(model: nn.Module, layer: str, target: int, inputs: torch.Tensor,
                 sets: list[torch.Tensor], pairs: list[tuple[int, int]]
                 ) -> dict[tuple[int, int], tuple[float, float]]:
    """Captum's TCAV for each pair (a, b) of image sets: a CAV separating set a from set
    b at ``layer``; returns pair -> (sign-count score of set a's direction, the CAV's
    held-out accuracy)."""
    from captum.concept import Concept          # here: Captum's concept package loads when asked

    # Captum turns concept names into file names: ours are safe, the user's stay outside.
    concepts = [Concept(i, f"set{i}", _loader(images)) for i, images in enumerate(sets)]
    runs = [[concepts[a], concepts[b]] for a, b in pairs]
    with tempfile.TemporaryDirectory(prefix="dlviz-tcav-") as tmp, torch.enable_grad():
        tc = _tcav_class()(model, [layer], model_id="net", classifier=_held_out_classifier(),
                           save_path=tmp + "/")
        raw = tc.interpret(inputs.float().cpu(), runs, target=target)
        return {(a, b): (float(raw[f"{a}-{b}"][layer]["sign_count"][0]),
                         float(tc.cavs[f"{a}-{b}"][layer].stats["accs"])) for a, b in pairs}


def _p_value(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided Student t-test p-value (``scipy.stats.ttest_ind``, equal variances, as in
    Captum's TCAV tutorial); 1.0 when both samples are one same constant (no evidence of
    a difference), 0.0 when they are two different constants."""
    from scipy.stats import ttest_ind            # here: scipy loads when someone asks

    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return 1.0 if a[0] == b[0] else 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        p = float(ttest_ind(a, b).pvalue)
    return 1.0 if math.isnan(p) else p


def _loader(images: torch.Tensor) -> DataLoader:
    """Batches of images only (Captum's concepts yield inputs, no labels)."""
    return DataLoader(images.float().cpu(), batch_size=_BATCH, shuffle=False)


# --------------------------------------------------------------------------- CAV classifier

def _tcav_class():
    """Captum's TCAV, recording each set's activations once. Captum 0.9's ``load_cavs``
    passes layer and concept to ``AV.exists`` the wrong way round, so it never finds the
    activations it saved and runs every set through the network again for each pair."""
    from captum.concept import TCAV

    class OnceTCAV(TCAV):
        def generate_activation(self, layers, concept) -> None:
            done = self.__dict__.setdefault("_recorded", set())
            if concept.id not in done:
                super().generate_activation(layers, concept)
                done.add(concept.id)

    return OnceTCAV


def _held_out_classifier():
    """A Captum ``Classifier`` without randomness: ridge-regularised least squares on
    +-1 labels (scikit-learn's ``RidgeClassifier``, closed form), trained on all but
    every HELD_OUT_EVERY-th example of each set, accuracy on those held out. Its weight
    vector is the CAV."""
    from captum.concept import Classifier
    from sklearn.linear_model import RidgeClassifier
    from threadpoolctl import threadpool_limits

    class HeldOut(Classifier):
        def __init__(self) -> None:
            self.lm = None

        def train_and_eval(self, dataloader, **kwargs):
            xs, ys = zip(*dataloader)              # batches of (activations (b, F), labels (b,))
            x = torch.cat(xs).double().numpy()
            y = torch.cat(ys).numpy()
            held = np.zeros(len(y), dtype=bool)
            for label in np.unique(y):             # every 3rd of each set: a stratified split
                held[np.flatnonzero(y == label)[::HELD_OUT_EVERY]] = True
            # One BLAS thread: the matrices are small (~100 x F), and threads that wait on
            # each other on a busy server made a 0.6 s call take 4 s (bench/concepts_speed.py).
            with threadpool_limits(limits=1, user_api="blas"):
                self.lm = RidgeClassifier(alpha=RIDGE_ALPHA).fit(x[~held], y[~held])
                right = self.lm.predict(x[held]) == y[held]
            return {"accs": torch.tensor(float(right.mean()))}

        def weights(self) -> torch.Tensor:
            w = torch.from_numpy(self.lm.coef_).float().reshape(-1, self.lm.coef_.shape[-1])
            return torch.cat([-w, w]) if len(w) == 1 else w      # (2, F): one row per set

        def classes(self) -> list[int]:
            return [int(c) for c in self.lm.classes_]

    return HeldOut()


# --------------------------------------------------------------------------- bounds

def _model_of(net: BuiltNet | nn.Module) -> nn.Module:
    return net.model if isinstance(net, BuiltNet) else net


def _check(net, model: nn.Module, layer, target, inputs, concepts, randoms) -> None:
    if isinstance(net, BuiltNet):
        choices = concept_layers(net)
    else:
        choices = [n for n, _ in model.named_modules() if n]
    if not choices:
        raise UserError("concept attribution needs a network with at least two hidden modules "
                        "(a layer and its activation will do)")
    if not isinstance(layer, str) or layer not in choices:
        raise UserError(f"unknown layer {layer!r} for concept attribution; choose one of: "
                        f"{', '.join(choices)}")
    if not isinstance(inputs, torch.Tensor) or inputs.dim() < 2:
        raise UserError("inputs must be a batch of examples (n, *input shape)")
    if not 1 <= len(inputs) <= MAX_INPUTS:
        raise UserError(f"concept attribution takes 1 to {MAX_INPUTS} inputs, got {len(inputs)}")
    shape = tuple(inputs.shape[1:])
    seen = []                                    # the layer's output for one input
    handle = dict(model.named_modules())[layer].register_forward_hook(
        lambda m, i, o: seen.append(o.numel() if isinstance(o, torch.Tensor) else 0))
    with torch.no_grad():
        try:
            out = model(inputs[:1].float().cpu())
        except RuntimeError:
            raise UserError(f"inputs of shape {shape} do not fit the network") from None
        finally:
            handle.remove()                      # a private copy, but leave it clean
    try:
        target = int(target)
    except (TypeError, ValueError):
        raise UserError("the class must be a whole number") from None
    if out.dim() != 2 or not 0 <= target < out.shape[1]:
        raise UserError(f"class index must be between 0 and {out.shape[1] - 1}, got {target}")
    if not isinstance(concepts, dict) or not 1 <= len(concepts) <= MAX_CONCEPTS:
        raise UserError(f"give 1 to {MAX_CONCEPTS} concepts, got "
                        f"{len(concepts) if isinstance(concepts, dict) else 'none'}")
    if not MIN_RANDOM_SETS <= len(randoms) <= MAX_RANDOM_SETS:
        raise UserError(f"give {MIN_RANDOM_SETS} to {MAX_RANDOM_SETS} random sets, got {len(randoms)}")
    for name, images in concepts.items():
        if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME_CHARS:
            raise UserError(f"a concept name must be 1 to {MAX_NAME_CHARS} characters")
        _check_images(f"concept '{name}'", images, shape)
    for j, images in enumerate(randoms):
        _check_images(f"random set {j + 1}", images, shape)
    examples = len(inputs) + sum(len(v) for v in concepts.values()) + sum(len(v) for v in randoms)
    if seen and seen[0] * examples > MAX_ACTIVATION_VALUES:
        raise UserError(f"layer {layer} has {seen[0]:,} values per image: too many for "
                        f"{examples} images; pick a later layer or fewer images")
    if not torch.isfinite(inputs).all():
        raise UserError("inputs contain NaN or infinite values")


def _check_images(what: str, images, shape: tuple[int, ...]) -> None:
    if not isinstance(images, torch.Tensor) or tuple(images.shape[1:]) != shape:
        got = tuple(images.shape[1:]) if isinstance(images, torch.Tensor) else type(images).__name__
        raise UserError(f"{what}: images must have the model's input shape {shape}, got {got}")
    if not MIN_CONCEPT_IMAGES <= len(images) <= MAX_CONCEPT_IMAGES:
        raise UserError(f"{what}: needs {MIN_CONCEPT_IMAGES} to {MAX_CONCEPT_IMAGES} images, "
                        f"got {len(images)}")
    if not torch.isfinite(images).all():
        raise UserError(f"{what}: images contain NaN or infinite values")
