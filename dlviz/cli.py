"""Command line: ``python -m dlviz train | explain | presets | datasets``.

Every user mistake ends with exit code 2 and one line on stderr; the last
line on stdout of ``train`` and ``explain`` is one JSON object with the results.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from dlviz.errors import UserError


class _Parser(argparse.ArgumentParser):
    def error(self, message):          # one line, not usage + error
        raise UserError(f"{self.prog}: {message}")


def _parser() -> argparse.ArgumentParser:
    from dlviz.train.backend_choice import BACKENDS
    from dlviz.train.optimizers import OPTIMIZERS, SETTINGS
    from dlviz.train.precision import PRECISIONS
    from dlviz.train.schedules import SCHEDULES

    p = _Parser(prog="dlviz", description="Build, train and look inside neural networks.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    t = sub.add_parser("train", help="train a network on a dataset")
    net = t.add_mutually_exclusive_group()
    net.add_argument("--preset", help="preset network (see: python -m dlviz presets)")
    net.add_argument("--spec", help="network spec JSON file")
    t.add_argument("--dataset", help="dataset key, folder:PATH, idx:PATH or csv:PATH "
                                     "(default: the preset's own)")
    t.add_argument("--target-column", help="csv: datasets: the column to predict (default: the last)")
    t.add_argument("--epochs", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--optimizer", choices=list(OPTIMIZERS))
    for s in SETTINGS.values():          # each optimizer setting of the registry is a flag
        t.add_argument(f"--{s.name.replace('_', '-')}", type=s.kind, help=s.help)
    t.add_argument("--l1", type=float, help="L1 penalty on weights")
    t.add_argument("--schedule", choices=list(SCHEDULES))
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    t.add_argument("--precision", choices=list(PRECISIONS), default="float32",
                   help="bf16: mixed precision (a GPU that supports it, or the CPU)")
    t.add_argument("--backend", choices=list(BACKENDS), default="thread",
                   help="where the run trains: a thread here (default), a worker process, or a Ray "
                        "actor (RAY_ADDRESS, else a local Ray started and shut down by this command)")
    t.add_argument("--samples", type=int, help="dataset size (train + test)")
    t.add_argument("--noise", type=float, help="dataset noise, 0 to 1")
    t.add_argument("--test-fraction", type=float, default=0.2)
    t.add_argument("--features", help="2-D inputs, comma separated, e.g. x1,x2,x1^2")
    t.add_argument("--image-size", type=int, help="folder datasets: resize to this side")
    t.add_argument("--out", help="write a model bundle (spec, safetensors weights, metrics CSV) here")
    t.add_argument("--no-progress", action="store_true", help="no progress bar even on a terminal")
    e = sub.add_parser("explain", help="explain a trained model's prediction for one image")
    e.add_argument("--bundle", required=True, help="model bundle: a folder from train --out, or the app's zip")
    e.add_argument("--image", required=True, help="PNG, JPEG, WebP, GIF (first frame) or BMP file")
    e.add_argument("--method", action="append", metavar="NAME",
                   help="attribution method (repeat, or comma separated; 'all'); default: the default set")
    e.add_argument("--target", type=int, help="class index to explain (default: the predicted class)")
    e.add_argument("--layer", help="layer for Grad-CAM / Guided Grad-CAM / conductance (default: the last conv)")
    e.add_argument("--invert", action="store_true", help="invert the image (dark ink on paper for a "
                                                         "model trained on light-on-dark digits)")
    e.add_argument("--opacity", type=float, default=0.7, help="overlay opacity, 0 to 1")
    e.add_argument("--npy", action="store_true", help="also write each raw attribution as .npy")
    e.add_argument("--out", default="explain-out", help="folder for the PNGs (default: ./explain-out)")
    e.add_argument("--influence", type=int, metavar="K",
                   help="also the K training examples that pushed the prediction up and down most "
                        "(TracIn over the bundle's checkpoints; its training set is rebuilt)")
    e.add_argument("--concepts", metavar="DIR",
                   help="also TCAV scores of the concepts in DIR (one sub-folder of images per concept, "
                        "or a zip of them) for the explained class, against random training images")
    e.add_argument("--concept-layer", metavar="NAME",
                   help="layer for --concepts (default: the last layer of feature maps)")
    sub.add_parser("presets", help="list preset networks")
    sub.add_parser("datasets", help="list datasets")
    sub.add_parser("lessons", help="list guided lessons (open one at /lessons?lesson=KEY)")
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        return {"train": _train, "explain": _explain, "presets": _presets,
                "datasets": _datasets, "lessons": _lessons}[args.command](args)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _lessons(args) -> int:
    from dlviz.lessons.registry import lessons
    for lesson in lessons().values():
        print(f"{lesson.key}  {lesson.title}")
    return 0


def _presets(args) -> int:
    from dlviz.presets import PRESETS
    for p in PRESETS.values():
        print(f"{p.key:14s} {p.description} (for: {p.dataset})")
    return 0


def _datasets(args) -> int:
    from dlviz.data import DATASETS
    for e in DATASETS.values():
        shape = "x".join(map(str, e.input_shape))
        kind = f"{e.num_classes} classes" if e.task == "classification" else "regression"
        print(f"{e.key:15s} {shape:8s} {kind:11s} {e.default_samples:6d} samples  {e.description}")
    print(f"{'folder:PATH':15s} {'CxSxS':8s} {'N classes':11s} {'':6s}         your images: one sub-folder per class (or a zip)")
    print(f"{'idx:PATH':15s} {'1xHxW':8s} {'N classes':11s} {'':6s}         MNIST-format IDX files (raw or .gz) in a folder")
    print(f"{'csv:PATH':15s} {'F':8s} {'by target':11s} {'':6s}         a table, one row per sample "
          "(--target-column names the column to predict)")
    return 0


def _train(args) -> int:
    from dlviz.data import DatasetParams, load_dataset
    from dlviz.data.registry import check_params, default_preset
    from dlviz.presets import PRESETS, preset_spec
    from dlviz.spec import NetSpec
    from dlviz.train.config import TrainConfig
    from dlviz.train.device import set_cpu_threads
    from dlviz.train.backend import estimate
    from dlviz.train.backend_choice import make_backend
    from dlviz.train.optimizers import SETTINGS

    set_cpu_threads()
    # no network named: the one that fits the dataset (real-digits: digits8-cnn, csv: an MLP)
    preset = PRESETS.get(args.preset or ("" if args.spec else
                                         default_preset(args.dataset) if args.dataset else "playground"))
    if args.preset and preset is None:
        raise UserError(f"unknown preset '{args.preset}'; choose one of: {', '.join(PRESETS)}")
    dataset_key = args.dataset or (preset.dataset if preset else None)
    if not dataset_key:
        raise UserError("--dataset is required with --spec")
    # every flag is checked (by the library's own checks) before the dataset is built
    overrides = dict(preset.train) if preset and not args.spec else {}
    for name in ("epochs", "lr", "batch_size", "optimizer", *SETTINGS, "l1", "schedule"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    overrides.update(seed=args.seed, device=args.device, precision=args.precision)
    config = TrainConfig.from_dict(overrides)
    params = DatasetParams(n_samples=args.samples, noise=args.noise, test_fraction=args.test_fraction,
                           seed=args.seed, image_size=args.image_size, target_column=args.target_column,
                           **({"features": tuple(f.strip() for f in args.features.split(","))}
                              if args.features else {}))
    check_params(params, dataset_key)
    spec = NetSpec.from_json(_read_text(args.spec)) if args.spec else None
    if args.out:
        _make_out_dir(args.out)          # before training, not after minutes of it
    ds = load_dataset(dataset_key, params)
    for note in ds.extra.get("notes", ()):     # what was done to a table's columns
        print(f"note: {note}", file=sys.stderr)
    if spec is None:
        spec = preset_spec(preset.key, ds.input_shape, ds.output_size, ds.task)
    backend = make_backend(args.backend)
    trainer = backend.submit(spec, ds, config)
    show = sys.stderr.isatty() and not args.no_progress
    interrupted = False
    trainer.start()
    try:
        while trainer.is_alive():
            trainer.join(0.2)
            if show:
                _progress(trainer.state())
    except KeyboardInterrupt:
        interrupted = True
        trainer.stop("interrupted")
        trainer.join()
    if show:
        _progress(trainer.state())
        sys.stderr.write("\n")
    state = trainer.state()
    if args.out:
        from dlviz.bundle import make_bundle, save_bundle
        from dlviz.bundle_checkpoints import checkpoints_of_run
        try:
            save_bundle(make_bundle(spec, trainer.snapshot().weights, ds, config, state,
                                    checkpoints_of_run(trainer)), args.out)
        except OSError as e:
            raise UserError(f"cannot write the model bundle to {args.out}: {e.strerror or e}") from None
    result = {
        "status": state.status,
        "preset": preset.key if preset and not args.spec else None,
        "dataset": ds.key,
        **{k: round(v, 6) for k, v in state.final.items()},
        "steps": state.step,
        "epochs": round(state.epoch, 3),
        "samples_per_s": round(state.samples_per_s, 1),
        "elapsed_s": round(state.elapsed_s, 2),
        "device": state.device,
        "precision": config.precision,
        "seed": config.seed,
        "params": estimate(spec, config.batch_size).total_params,
        "diverged": state.status == "diverged",
        "message": state.message,
        "out": args.out,
        "backend": args.backend,
    }
    trainer.close()                              # a worker process or Ray actor ends here
    getattr(backend, "shutdown", lambda: None)()     # and a local Ray this command started
    if state.status == "error":
        print(f"error: {state.message}", file=sys.stderr)
    print(json.dumps(result))
    return 130 if interrupted else (1 if state.status == "error" else 0)


MAX_IMAGE_FILE_BYTES = 50_000_000      # as for one image of a folder dataset


def _explain(args) -> int:
    import numpy as np

    from dlviz.bundle import load_bundle
    from dlviz.data.model_input import prepare_upload
    from dlviz.explain import METHODS, attribute, available_methods, default_methods, delta_check
    from dlviz.plots.attribution import explanation_sheet, overlay
    from dlviz.train.device import set_cpu_threads
    from dlviz.views import predict_proba

    set_cpu_threads()
    if not 0.0 <= args.opacity <= 1.0:
        raise UserError(f"--opacity must be between 0 and 1, got {args.opacity}")
    if args.concept_layer and args.concepts is None:
        raise UserError("--concept-layer is only used with --concepts")
    bundle = load_bundle(os.path.expanduser(args.bundle))
    shape = tuple(bundle.spec.input_shape)
    if len(shape) != 3:
        raise UserError(f"this model takes {shape[0]} input features, not an image")
    data = _read_image(args.image)
    prep = prepare_upload(data, os.path.basename(args.image), shape, bundle.dataset.get("norm_mean", []),
                          bundle.dataset.get("norm_std", []), invert=args.invert)
    net = bundle.model()
    probs = predict_proba(net.model, prep.x.unsqueeze(0))[0]               # (K,)
    regression = bundle.spec.task == "regression" or len(probs) == 1
    classes = bundle.classes if len(bundle.classes) == len(probs) else [str(i) for i in range(len(probs))]
    methods = _method_list(args.method, available_methods(net), default_methods(net), METHODS)
    if args.layer and not any(METHODS[m].needs_layer for m in methods):
        raise UserError("--layer is only used by gradcam, guided_gradcam and layer_conductance")

    _make_out_dir(args.out)
    stem = os.path.splitext(os.path.basename(args.image))[0] or "image"
    done, atts = {}, []
    for key in methods:
        layer = args.layer if METHODS[key].needs_layer else None
        a = attribute(net, prep.x, args.target, key, layer=layer)
        path = os.path.join(args.out, f"{stem}-{key}.png")
        if a.in_input_space:
            overlay(prep.shown, a.map2d, METHODS[key].signed, args.opacity).save(path)
        else:            # conductance of a dense layer: one bar per unit
            explanation_sheet(None, [a.map2d], [METHODS[key].label]).save(path)
        check = delta_check(a)          # a delta means something only next to the map's own size
        entry = {"file": path, "delta": None if a.delta is None else round(a.delta, 6),
                 "delta_large": None if check is None else check.large,
                 "layer": a.layer, "seconds": round(a.seconds, 4)}
        if args.npy:
            entry["npy"] = os.path.join(args.out, f"{stem}-{key}.npy")
            np.save(entry["npy"], a.values)
        done[key] = entry
        atts.append(a)
    target = atts[0].target if atts else (0 if regression else int(probs.argmax()))
    title = (f"{os.path.basename(args.image)}: output {float(probs[0]):.4g}" if regression else
             f"{os.path.basename(args.image)}: predicted {classes[int(probs.argmax())]} "
             f"({probs.max():.0%}), explaining {classes[target]}")
    sheet = os.path.join(args.out, f"{stem}-sheet.png")
    explanation_sheet(prep.shown, [a.map2d for a in atts], [METHODS[a.method].label for a in atts],
                      [METHODS[a.method].signed for a in atts], args.opacity, title).save(sheet)
    if regression:
        result = {"prediction": float(probs[0]), "class": None, "probabilities": {}}
    else:
        k = int(probs.argmax())
        result = {"prediction": k, "class": classes[k],
                  "probabilities": {c: round(float(p), 6) for c, p in zip(classes, probs)}}
    result.update(target=target, methods=done, sheet=sheet, input=prep.note,
                  suggest_invert=prep.suggest_invert)
    if args.influence is not None:
        from dlviz.cli_beyond import influence_part
        result["influence"] = influence_part(bundle, net, prep.x.unsqueeze(0), prep.shown, target,
                                             args.influence, args.out, stem)
    if args.concepts is not None:
        from dlviz.cli_beyond import concepts_part
        result["concepts"] = concepts_part(bundle, net, target, args.concepts, args.concept_layer,
                                           args.out, stem)
    print(json.dumps(result))
    return 0


def _method_list(given: list[str] | None, available: list[str], defaults: list[str], registry) -> list[str]:
    if not given:
        return defaults
    names = [n.strip() for g in given for n in g.split(",") if n.strip()]
    if "all" in names:
        return available
    out = []
    for n in names:
        if n not in registry:
            raise UserError(f"unknown method '{n}'; choose from: {', '.join(registry)} (or all)")
        if n not in available:
            raise UserError(f"{registry[n].label} needs a convolution layer; this model has none")
        if n not in out:
            out.append(n)
    return out


def _make_out_dir(path: str) -> None:
    """Create the --out folder (as given: save_bundle and the PNG writers use it so),
    or say in one line why it cannot be: a file in the way, /proc, no permission."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise UserError(f"--out {path}: is a file, not a folder")
    try:
        os.makedirs(path, exist_ok=True)
    except (OSError, ValueError) as e:                  # ValueError: a NUL in the path
        why = getattr(e, "strerror", None) or e
        raise UserError(f"--out {path}: cannot create this folder ({why})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UserError(f"--out {path}: this folder is not writable")


def _read_image(path: str) -> bytes:
    full = os.path.expanduser(path)
    if not os.path.isfile(full):
        raise UserError(f"image file not found: {path}")
    if os.path.getsize(full) > MAX_IMAGE_FILE_BYTES:
        raise UserError(f"{os.path.basename(path)}: larger than {MAX_IMAGE_FILE_BYTES // 1_000_000} MB")
    try:
        with open(full, "rb") as f:
            return f.read(MAX_IMAGE_FILE_BYTES + 1)
    except OSError as e:
        raise UserError(f"cannot read image file {path}: {e.strerror or e}") from None


def _read_text(path: str) -> str:
    full = os.path.expanduser(path)
    if not os.path.isfile(full):
        raise UserError(f"spec file not found: {path}")
    if os.path.getsize(full) > 1 << 20:
        raise UserError(f"spec file is larger than 1 MiB: {path}")
    try:
        with open(full, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read spec file {path}: {e}") from None


def _progress(s) -> None:
    width = 28
    done = int(width * s.progress)
    eta = "--:--" if s.eta_s is None else time.strftime("%M:%S", time.gmtime(s.eta_s))
    acc = s.latest_eval().get("test_accuracy")
    acc_txt = f"  test acc {acc:.3f}" if acc is not None else ""
    sys.stderr.write(f"\r[{'#' * done}{'.' * (width - done)}] {100 * s.progress:5.1f}%  "
                     f"epoch {min(s.epochs, int(s.epoch) + 1)}/{s.epochs}  "
                     f"{s.samples_per_s:,.0f} samples/s  ETA {eta}{acc_txt}   ")
    sys.stderr.flush()
