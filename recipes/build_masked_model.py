"""Rebuild ``fer-mini-xception-masked``: the pretrained teacher adapted to masked faces.

Run from the repository root, with fermask importable and TensorFlow installed::

    python recipes/build_masked_model.py --faces ../shared/faces --out runs/masked-model --seed 0
    python recipes/build_masked_model.py --faces ../shared/faces --out /tmp/mm --quick   # a tiny smoke run

Steps:

1. The largest face of every photo of ``--faces`` (``nonfaces/`` left out) is
   found on the bare photo and cropped as the teacher expects; the teacher's
   answer on the bare crop (its probabilities) is the target of every view of
   that face. No label is read for training.
2. Every face gets ``--views`` training views: masked (fermask's built-in
   styles, colours and patterns, or masks fermask does not draw:
   ``occluders.py``'s kinds) and, with the same augmentation, bare; mirror,
   rotation, scale, shift, brightness, contrast, blur and JPEG.
3. People are dealt to ``--folds`` folds (both photos of a London id, and all
   photos of the one CC0 person, in one fold). For each measured fold, every
   setting of the grid is trained on the other folds less one and scored on
   that one (the *inner* fold); the best one is trained on all the other folds
   and measured on the measured fold. No setting is chosen on the faces it is
   measured on.
4. Measured faces are masked on the full photo in every built-in style and
   with every occluder kind (seeds training never uses) and cut as the
   teacher's crop: agreement with the teacher's bare answer, accuracy against
   the photographed expression (London: neutral and smiling -> happy), and
   agreement on bare faces, for the teacher and for the adapted model.
5. The final model: the setting chosen most often by the inner folds, trained
   on every face; saved as ``model.h5`` and ``model.tflite`` with
   ``report.json`` (figures, setting, command, training files' sha256).

The same seed and faces give the same bytes on the same TensorFlow build.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import masked_model_data as data  # noqa: E402
import masked_model_train as mt  # noqa: E402
from masked_model_report import markdown_table, plot_all  # noqa: E402

#: The settings each inner fold chooses among.
GRID = (
    mt.Setting(unmasked_share=0.5, temperature=2.0, layers="all"),
    mt.Setting(unmasked_share=0.3, temperature=2.0, layers="all"),
    mt.Setting(unmasked_share=0.5, temperature=4.0, layers="frozen-bn"),
)
QUICK_GRID = (mt.Setting(epochs=1, views_per_epoch=1),)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--faces", required=True, type=Path, help="the faces folder (../shared/faces)")
    p.add_argument("--out", required=True, type=Path, help="folder for model.h5, model.tflite and report.json")
    p.add_argument("--teacher", default="fer-mini-xception", help="the teacher bundle or pretrained name")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds, people kept apart (default: 5)")
    p.add_argument("--views", type=int, default=24, help="training views per face (default: 24)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plots", type=Path, default=None, help="folder for masked_model_*.png (default: --out)")
    p.add_argument("--balance", action="store_true",
                   help="weight faces by the inverse frequency of the teacher's top answer (every setting of the grid)")
    p.add_argument("--no-final", action="store_true", help="cross-validate only; train no final model")
    p.add_argument("--quick", action="store_true", help="a tiny run: 24 photos, 2 folds, 1 epoch (tests)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p.parse_args(argv)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _inner_choice(args: argparse.Namespace, ctx: dict[str, Any], k: int, grid: tuple[mt.Setting, ...]) -> tuple[int, list[float]]:
    """The grid setting that scores best on the inner fold of measured fold ``k`` (never fold ``k``'s faces)."""
    if len(grid) == 1:
        return 0, [float("nan")]
    folds = ctx["folds"]
    inner = (k + 1) % args.folds
    train_rows = np.flatnonzero((folds != k) & (folds != inner))
    val_rows = np.flatnonzero(folds == inner)
    scores = []
    for s in grid:
        student = mt.train_student(ctx["teacher"], ctx["views"], ctx["probs"], train_rows, s, args.seed, not args.quiet)
        pred = mt.answers(student, {"bare": ctx["faces"].bare, **ctx["sets"]}, val_rows)
        scores.append(mt.objective(mt.summarise(pred, ctx["probs"][val_rows].argmax(1), ctx["truth"][val_rows])))
    return int(np.argmax(scores)), scores


def cross_validate(args: argparse.Namespace, ctx: dict[str, Any], grid: tuple[mt.Setting, ...]) -> dict[str, Any]:
    """Nested, by person: per measured fold, a setting chosen on an inner fold, then measured."""
    folds, n = ctx["folds"], len(ctx["faces"])
    sets = {"bare": ctx["faces"].bare, **ctx["sets"]}
    teacher_pred = {name: np.zeros(n, np.int64) for name in sets}
    adapted_pred = {name: np.zeros(n, np.int64) for name in sets}
    chosen, inner_scores = [], []
    for k in range(args.folds):
        t = time.perf_counter()
        best, scores = _inner_choice(args, ctx, k, grid)
        rows = np.flatnonzero(folds != k)
        held = np.flatnonzero(folds == k)
        student = mt.train_student(ctx["teacher"], ctx["views"], ctx["probs"], rows, grid[best], args.seed, not args.quiet)
        for name, p in mt.answers(student, sets, held).items():
            adapted_pred[name][held] = p
        for name, p in mt.answers(ctx["teacher"], sets, held).items():
            teacher_pred[name][held] = p
        chosen.append(best)
        inner_scores.append([round(s, 4) for s in scores])
        _say(args, f"fold {k + 1}/{args.folds}: {len(held)} faces measured, setting {grid[best].name()} "
             f"(inner scores {', '.join(f'{s:.3f}' for s in scores)}), {time.perf_counter() - t:.0f} s")
    bare_answer = ctx["probs"].argmax(1)
    per_fold = []
    for k in range(args.folds):
        held = folds == k
        per_fold.append({
            "teacher": mt.summarise({a: b[held] for a, b in teacher_pred.items()}, bare_answer[held], ctx["truth"][held]),
            "adapted": mt.summarise({a: b[held] for a, b in adapted_pred.items()}, bare_answer[held], ctx["truth"][held]),
        })
    base = mt.baseline(bare_answer, ctx["truth"])
    return {
        "teacher": mt.summarise(teacher_pred, bare_answer, ctx["truth"]),
        "adapted": mt.summarise(adapted_pred, bare_answer, ctx["truth"]),
        "per_fold": per_fold,
        "chosen": [grid[c].name() for c in chosen],
        "inner_scores": inner_scores,
        "grid": [s.to_dict() for s in grid],
        "chosen_index": chosen,
        "baseline": {**base, "answer_name": ctx["labels"][base["answer"]]},
        "answers": {"teacher": mt.answer_counts(teacher_pred, ctx["labels"]),
                    "adapted": mt.answer_counts(adapted_pred, ctx["labels"])},
        "minority": {"teacher": mt.minority_agreement(teacher_pred, bare_answer),
                     "adapted": mt.minority_agreement(adapted_pred, bare_answer)},
        "predictions": {"teacher": {a: b.tolist() for a, b in teacher_pred.items()},
                        "adapted": {a: b.tolist() for a, b in adapted_pred.items()},
                        "teacher_bare_answer": bare_answer.tolist()},
    }


def _say(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(text, flush=True)


def prepare(args: argparse.Namespace) -> dict[str, Any]:
    """Faces, the teacher's answers, training views, measured sets and folds."""
    from fermask.bundle import load_bundle
    from fermask.masker import Masker

    teacher, info = load_bundle(args.teacher)
    size = tuple(info.image_size)
    faces = data.read_faces(args.faces, size, info.face_margin, limit=24 if args.quick else None, progress=not args.quiet)
    probs = mt.predict(teacher, faces.bare).astype(np.float32)
    labels = list(info.labels)
    truth = np.array([labels.index(e) if e else -1 for e in faces.expressions], np.int64)
    inner = (1 + 2 * info.face_margin) / (1 + 2 * data.CONTEXT_MARGIN)
    masker = Masker("random", color="random", pattern="random", seed=args.seed)
    views = data.training_views(faces, masker, 2 if args.quick else args.views, size[0], inner, args.seed,
                                progress=not args.quiet)
    styled = {}

    def masker_for(style: str) -> Masker:
        if style not in styled:
            styled[style] = Masker(style, color="random", pattern="random", seed=args.seed + 1_000_003)
        return styled[style]

    sets = data.measured_sets(args.faces, faces, masker_for, size, info.face_margin, args.seed, progress=not args.quiet)
    folds = data.person_folds(faces.people, args.folds, args.seed)
    return {"teacher": teacher, "info": info, "faces": faces, "probs": probs, "labels": labels, "truth": truth,
            "views": views, "sets": sets, "folds": folds}


def final_model(args: argparse.Namespace, ctx: dict[str, Any], setting: mt.Setting) -> dict[str, str]:
    """Train on every face with ``setting``; write ``model.h5`` and ``model.tflite``; their sha256.

    Both hold the teacher's own layers (the trained weights copied back from
    the trainable copy), taking 0-255 pixels: ``model.tflite`` is float32.
    """
    import contextlib
    import io

    from fermask._tf import keras_module, tf_module

    keras, tf = keras_module(), tf_module()
    rows = np.arange(len(ctx["faces"]))
    student = mt.train_student(ctx["teacher"], ctx["views"], ctx["probs"], rows, setting, args.seed, not args.quiet)
    plain = keras.models.clone_model(ctx["teacher"])
    plain.set_weights(student.get_weights())
    h5 = args.out / "model.h5"
    plain.save(h5)
    tfl = args.out / "model.tflite"
    with contextlib.redirect_stdout(io.StringIO()):  # the converter prints its temporary folder
        tfl.write_bytes(bytes(tf.lite.TFLiteConverter.from_keras_model(plain).convert()))
    from fermask._runtime import TFLiteModel

    agree = float((mt.predict(plain, ctx["faces"].bare).argmax(1) == ctx["probs"].argmax(1)).mean())
    _say(args, f"final model: bare agreement with the teacher on its own training faces {agree:.1%}")
    faces = np.concatenate([ctx["faces"].bare, *ctx["sets"].values()]).astype(np.float32)[..., None]
    lite = TFLiteModel(tfl.read_bytes())
    same = int((lite.predict(faces, batch_size=128).argmax(1) == plain.predict(faces, batch_size=128, verbose=0).argmax(1)).sum())
    _say(args, f"model.tflite gives model.h5's top emotion on {same} of {len(faces)} faces (bare and masked)")
    return {"model.h5": _sha256(h5), "model.tflite": _sha256(tfl), "tflite_same_top": f"{same}/{len(faces)}"}


def credits(folder: Path, files: list[str]) -> list[dict[str, Any]]:
    """Licence and citation of the training files, grouped, from the faces folder's ``provenance.csv``."""
    import csv

    rows = {}
    prov = folder / "provenance.csv"
    if prov.is_file():
        with prov.open(newline="", encoding="utf-8") as fh:
            rows = {r["file"]: r for r in csv.DictReader(fh)}
    groups: dict[tuple[str, str], int] = {}
    for f in files:
        r = rows.get(f, {})
        key = (r.get("licence", "unknown"), r.get("source", "unknown"))
        groups[key] = groups.get(key, 0) + 1
    return [{"licence": lic, "citation": src, "files": n} for (lic, src), n in sorted(groups.items())]


def card(report: dict[str, Any], ctx: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """What the published model's ``fermask.json`` records: teacher, recipe, training files, licences, citations, figures."""
    from masked_model_report import verdict

    cv = report["cv"]
    keys = ("agree:bare", "agree:fermask", "agree:other", "acc:bare", "acc:fermask", "acc:other")
    return {
        "teacher": args.teacher,
        "recipe": report["command"],
        "seed": args.seed,
        "setting": report.get("final_setting"),
        "training_data": {"faces": report["faces"], "people": report["people"],
                          "provenance_csv_sha256": report["provenance_sha256"], "files_sha256": report["training_files"]},
        "credits": credits(args.faces, ctx["faces"].files),
        "cross_validation": {"folds": args.folds, "by": "person",
                             "teacher": {k: round(cv["teacher"][k], 4) for k in keys},
                             "adapted": {k: round(cv["adapted"][k], 4) for k in keys},
                             "verdict": verdict(cv)},
        "taught": "the teacher's soft answers on bare faces of two photographed expressions (neutral, smiling) "
                  "and on unposed faces; no masked anger, fear, disgust, sadness or surprise beyond what those "
                  "soft answers carry",
    }


def main(argv: list[str] | None = None) -> int:
    """Run the recipe."""
    args = parse_args(argv)
    if args.quick:
        args.folds = 2
    start = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    ctx = prepare(args)
    faces = ctx["faces"]
    _say(args, f"{len(faces)} faces of {len(set(faces.people))} people ({len(faces.skipped)} photos without a face found: "
               f"{', '.join(faces.skipped) or 'none'})")
    grid = QUICK_GRID if args.quick else GRID
    if args.balance:
        grid = tuple(replace(s, balance=True) for s in grid)
    cv = cross_validate(args, ctx, grid)
    report: dict[str, Any] = {
        "command": "python recipes/build_masked_model.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "teacher": args.teacher, "seed": args.seed, "folds": args.folds, "views": args.views,
        "faces": len(faces), "people": len(set(faces.people)), "skipped": faces.skipped,
        "london_faces": int((ctx["truth"] >= 0).sum()), "labels": ctx["labels"],
        "fold_sizes": np.bincount(ctx["folds"], minlength=args.folds).tolist(), "cv": cv,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}",
    }
    report["training_files"] = {f: _sha256(args.faces / f) for f in faces.files}
    prov = args.faces / "provenance.csv"
    report["provenance_sha256"] = _sha256(prov) if prov.is_file() else None
    table = markdown_table(cv)
    (args.out / "report.md").write_text(table + "\n")
    written = [args.out / "report.md", *plot_all(cv, args.plots or args.out)]
    _say(args, table)
    (args.out / "report.json").write_text(json.dumps(report, indent=1) + "\n")  # kept if the final model fails
    if not args.no_final:
        setting = grid[Counter(cv["chosen_index"]).most_common(1)[0][0]]
        report["final_setting"] = setting.to_dict()
        report["final_files"] = final_model(args, ctx, setting)
        (args.out / "card.json").write_text(json.dumps(card(report, ctx, args), indent=1, sort_keys=True) + "\n")
        written += [args.out / "model.h5", args.out / "model.tflite", args.out / "card.json"]
    report["wall_seconds"] = round(time.perf_counter() - start, 1)
    (args.out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    _say(args, f"wall time {report['wall_seconds']:.0f} s; wrote {args.out / 'report.json'}")
    _say(args, "and " + ", ".join(str(p) for p in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
