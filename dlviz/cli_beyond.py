"""``python -m dlviz explain``'s explanations beyond pixels, for a saved model bundle:
``--influence K`` (the training examples that pushed this prediction up and down, by
TracIn over the bundle's checkpoints) and ``--concepts DIR`` (TCAV scores of concept
images). Each writes one PNG and returns the JSON part of the command's last line.
"""

from __future__ import annotations

import os
import sys

from dlviz.bundle import Bundle, bundle_training_set
from dlviz.errors import UserError
from dlviz.explain.params import resolve
from dlviz.explain.registry import BEYOND_PIXELS


def influence_part(bundle: Bundle, net, x, shown, target: int, k: int, out: str, stem: str) -> dict:
    """Top ``k`` proponents and opponents of ``target`` for input ``x`` (1, C, H, W) as
    ``{stem}-influence.png`` in ``out``; the JSON entry."""
    from dlviz.data.labels import class_name
    from dlviz.plots.example_grid import example_grid, short_score
    from dlviz.views.predictions import denormalise

    method = BEYOND_PIXELS["tracin"]
    k = resolve(method.key, "--influence", method.params, {"k": k})["k"]
    if bundle.spec.task != "classification":
        raise UserError("--influence explains a class: this model is a regression model")
    ds = bundle_training_set(bundle)
    checkpoints = bundle.checkpoints or [(int(bundle.final.get("steps", 0)), bundle.weights)]
    r = method.run(net, checkpoints, ds.x_train, ds.y_train, x[0], target, k=k)
    classes = bundle.classes or [str(i) for i in range(bundle.spec.outputs)]

    def rows(idx, scores):
        return [{"index": int(i), "label": class_name(classes, int(ds.y_train[i])),
                 "score": round(float(s), 6)} for i, s in zip(idx, scores)]

    def caption(e: dict) -> str:
        return f"{e['label']} · {short_score(e['score'])}"

    pro, opp = rows(r.proponents, r.proponent_scores), rows(r.opponents, r.opponent_scores)
    path = os.path.join(out, f"{stem}-influence.png")
    example_grid(shown, [
        (f"Proponents: pushed towards {classes[target]}", denormalise(ds.x_train[r.proponents], ds.norm_mean,
                                                                       ds.norm_std),
         [caption(e) for e in pro]),
        (f"Opponents: pushed against {classes[target]}", denormalise(ds.x_train[r.opponents], ds.norm_mean,
                                                                      ds.norm_std),
         [caption(e) for e in opp]),
    ], title=f"Training examples behind '{classes[target]}' (TracIn over {len(r.steps)} checkpoints)").save(path)
    return {"file": path, "target": target, "checkpoints": list(r.steps),
            "from_checkpoints": bool(bundle.checkpoints), "dataset": ds.key,
            "considered": r.considered, "seconds": round(r.seconds, 4),
            "proponents": pro, "opponents": opp}


def concepts_part(bundle: Bundle, net, target: int, folder: str, layer: str | None, out: str,
                  stem: str) -> dict:
    """TCAV scores of the concepts in ``folder`` (one sub-folder of images each, or a zip)
    for class ``target`` at ``layer`` (default: the last layer of maps), against random
    sets of the bundle's training images; ``{stem}-concepts.png`` and the JSON entry."""
    from dlviz.data.concept_images import class_examples, random_sets, read_concepts
    from dlviz.data.labels import class_name
    from dlviz.explain.concepts import concept_layers, default_concept_layer
    from dlviz.plots.concepts import tcav_bars_image

    method = BEYOND_PIXELS["tcav"]
    settings = resolve(method.key, "--concepts", method.params, {})
    if bundle.spec.task != "classification":
        raise UserError("--concepts explains a class: this model is a regression model")
    path = os.path.expanduser(folder)
    if not os.path.exists(path):
        raise UserError(f"--concepts {folder}: no such folder or zip")
    layer = layer or default_concept_layer(net)
    if layer not in concept_layers(net):
        raise UserError(f"--concept-layer {layer}: not a layer of this model; choose one of: "
                        f"{', '.join(concept_layers(net))}")
    ds = bundle_training_set(bundle)
    notes: list[str] = []
    concepts = read_concepts(path, ds, notes)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    inputs = class_examples(ds, target, settings["inputs"])
    if len(inputs) < 2:
        raise UserError(f"the training data has too few examples of class {target} to score concepts on")
    randoms = random_sets(ds, settings["random_sets"], settings["images"])
    r = method.run(net, layer, target, inputs, {k: v[:settings["images"]] for k, v in concepts.items()},
                   randoms)
    classes = bundle.classes or [str(i) for i in range(bundle.spec.outputs)]
    file = os.path.join(out, f"{stem}-concepts.png")
    tcav_bars_image(r, class_name(classes, target)).save(file)
    return {"file": file, "layer": r.layer, "target": target, "inputs": r.inputs,
            "seconds": round(r.seconds, 3), "random_scores": [round(v, 4) for v in r.random_scores],
            "scores": [{"name": s.name, "score": round(s.score, 4), "spread": round(s.spread, 4),
                        "p_value": float(f"{s.p_value:.4g}"), "significant": s.significant,
                        "cav_accuracy": round(s.cav_accuracy, 4)} for s in r.scores]}
