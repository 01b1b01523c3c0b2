"""Rebuild fermask's mask-presence classifier (``fermask/assets/mask_presence.tflite``) from a faces folder.

Run from the repository root::

    python recipes/build_mask_presence.py --faces ../shared/faces --out src/fermask/assets --seed 0
    python recipes/build_mask_presence.py --faces ../shared/faces --out /tmp/mp --quick   # a tiny run

Steps: find each photo's face (fermask's HOG detector and 68 landmarks);
draw the examples (``presence_data.py``: fermask's masks in every built-in
style, colour and pattern; occluders fermask does not draw; bare faces and
near misses; heavy augmentation); measure by ``--folds``-fold
cross-validation with people kept apart (both London photos of an id, and
every photo of Lisa DeBruine, in one fold); measure leave-one-kind-out for
each occluder kind trained on; train the final model on everyone; write the
float32 TFLite model, its description (``mask_presence.json``) and a plot of
the measured figures.

The ``photo`` occluder (a mask-like outline filled with a patch of a real
non-face photo) is never trained on, by any model here: its figure measures
masks unlike anything in training.

Deterministic: the same seed and faces folder give the same bytes (on the
same TensorFlow build; oneDNN is turned off and the threads fixed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

os.environ["TF_DETERMINISTIC_OPS"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import presence_data as data  # noqa: E402
from fermask.faces import MASKED_THRESHOLD, MaskPresence  # noqa: E402
from fermask.faces._presence import CROP_MARGIN, CROP_SIZE  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"builtin": 0.99, "not_drawn": 0.95, "bare": 0.97}
CITATIONS = [
    "DeBruine & Jones (2017), Face Research Lab London Set, v5, figshare, doi:10.6084/m9.figshare.5047666.v5 (CC BY 4.0)",
    "DeBruine & Jones (2017), Young Adult White Faces with Manipulated Versions, v1, figshare, "
    "doi:10.6084/m9.figshare.4220517.v1 (CC BY 4.0)",
    "DeBruine (2016), Young adult composite faces, figshare, doi:10.6084/m9.figshare.4055130.v1 (CC BY 4.0)",
    "Lisa DeBruine, photographs of herself, via the webmorphR.stim package (CC0)",
    "Non-face photos (textures of the never-trained 'photo' occluder): Pixabay License, photographers in "
    "nonfaces/_info.csv",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--faces", type=Path, default=ROOT.parent / "shared" / "faces", help="the faces folder")
    p.add_argument("--out", type=Path, default=ROOT / "src" / "fermask" / "assets", help="where the model goes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (people kept apart)")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--plot", type=Path, default=None,
                   help="the figure of the measured figures (default: docs/img/mask_presence.png; --quick: OUT/)")
    p.add_argument("--loko-folds", type=int, default=2,
                   help="folds each leave-one-kind-out model is measured on (0: skip them; --quick: 1)")
    p.add_argument("--quick", action="store_true", help="a tiny run (a few photos, 2 folds, 1 epoch): tests use it")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--replot", action="store_true",
                   help="only redraw the figure from the figures measured in OUT/mask_presence.json (no training)")
    args = p.parse_args(argv)
    if args.quick:
        args.folds, args.epochs = 2, 1
    if args.plot is None:
        args.plot = args.out / "mask_presence.png" if args.quick else ROOT / "docs" / "img" / "mask_presence.png"
    return args


def setup_tf(seed: int):
    """TensorFlow set up for repeatable training: seeds, deterministic ops, fixed threads."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(2)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # already initialised in this process (tests): the threads stay as they were
        pass
    tf.config.experimental.enable_op_determinism()
    tf.get_logger().setLevel("ERROR")  # retracing notes: every fold builds a new model on purpose
    import keras

    keras.utils.set_random_seed(seed)
    return tf, keras


def build_model(keras):
    """The classifier: 0-255 RGB pixels in, P(masked) out; about 20,000 weights."""
    layers = keras.layers
    x = inputs = keras.Input((CROP_SIZE, CROP_SIZE, 3), name="pixels")
    x = layers.Rescaling(1 / 255.0)(x)
    for i, width in enumerate((16, 32, 48, 64)):
        conv = layers.SeparableConv2D if i == 3 else layers.Conv2D
        x = conv(width, 3, strides=2, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.3)(x)
    out = layers.Dense(1, activation="sigmoid", name="masked")(x)
    return keras.Model(inputs, out, name="mask_presence")


def train(x: np.ndarray, y: np.ndarray, seed: int, epochs: int, label: str, progress: bool):
    """A model trained on ``x`` (uint8 crops) and ``y`` (0/1), classes weighted equally."""
    from tqdm.auto import tqdm

    tf, keras = setup_tf(seed)
    model = build_model(keras)
    batch = 64
    steps = max(1, int(np.ceil(len(x) / batch))) * epochs
    lr = keras.optimizers.schedules.CosineDecay(2e-3, steps, alpha=0.02)
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="binary_crossentropy")
    pos = float(y.mean()) if len(y) else 0.5
    weights = np.where(y > 0.5, 0.5 / max(pos, 1e-3), 0.5 / max(1 - pos, 1e-3)).astype(np.float32)
    ds = (tf.data.Dataset.from_tensor_slices((x, y, weights))
          .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
          .batch(batch)
          .map(lambda a, b, w: (tf.cast(a, tf.float32), b, w)))
    bar = tqdm(total=epochs, desc=label, unit="epoch", disable=not progress, leave=False)

    class Bar(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            bar.update(1)
            bar.set_postfix(loss=f"{(logs or {}).get('loss', 0):.4f}")

    with bar:
        model.fit(ds, epochs=epochs, verbose=0, shuffle=False, callbacks=[Bar()])  # ds shuffles, seeded
    return model


def predict(model, x: np.ndarray) -> np.ndarray:
    """P(masked) of uint8 crops, from the Keras model."""
    return model.predict(x.astype(np.float32), batch_size=256, verbose=0).reshape(-1)


def assign_folds(people: list[str], folds: int, seed: int) -> dict[str, int]:
    """Each person's fold: people shuffled by ``seed`` and dealt round-robin."""
    order = sorted(set(people))
    rng = np.random.default_rng([seed, 7])
    return {p: i % folds for i, p in enumerate(np.array(order)[rng.permutation(len(order))])}


def cross_validate(ex: dict[str, np.ndarray], fold_of_photo: np.ndarray, args: argparse.Namespace,
                   drop_kind: str | None = None, only_folds: list[int] | None = None) -> np.ndarray:
    """Out-of-fold scores of every example (NaN where not measured).

    Training leaves out the held-out fold's people, the never-trained kind and ``drop_kind``.
    """
    fold = fold_of_photo[ex["photo"]]
    scores = np.full(len(ex["y"]), np.nan, np.float32)
    banned = np.isin(ex["kind"], [data.UNSEEN_KIND] + ([drop_kind] if drop_kind else []))
    for k in (range(args.folds) if only_folds is None else only_folds):
        fit = (fold != k) & ~banned
        held = fold == k
        name = f"fold {k + 1}/{args.folds}" + (f" without {drop_kind}" if drop_kind else "")
        model = train(ex["x"][fit], ex["y"][fit], args.seed + 101 * (k + 1), args.epochs, name, not args.quiet)
        if drop_kind:
            held &= ex["kind"] == drop_kind
        scores[held] = predict(model, ex["x"][held])
    return scores


def figures(ex: dict[str, np.ndarray], scores: np.ndarray, kinds: list[str]) -> dict[str, dict[str, float]]:
    """Share of examples of each kind called right at the threshold, with counts."""
    out = {}
    for kind in kinds:
        sel = (ex["kind"] == kind) & ~np.isnan(scores)
        if not sel.any():
            continue
        right = (scores[sel] >= MASKED_THRESHOLD) == (ex["y"][sel] > 0.5)
        out[kind] = {"accuracy": round(float(right.mean()), 4), "n": int(sel.sum()), "wrong": int((~right).sum())}
    return out


def pooled(per_kind: dict[str, dict[str, float]], kinds) -> dict[str, float]:
    """The figures of several kinds pooled into one."""
    n = sum(per_kind[k]["n"] for k in kinds if k in per_kind)
    wrong = sum(per_kind[k]["wrong"] for k in kinds if k in per_kind)
    return {"accuracy": round(1 - wrong / n, 4) if n else float("nan"), "n": n, "wrong": wrong}


def measure(ex, fold_of_photo, args) -> dict:
    """Cross-validated figures (every kind) and leave-one-kind-out figures (each occluder kind trained on)."""
    scores = cross_validate(ex, fold_of_photo, args)
    all_kinds = [*data.STYLES, *data.TRAINED_KINDS, data.UNSEEN_KIND, *data.BARE_KINDS]
    per_kind = figures(ex, scores, all_kinds)
    result = {
        "per_kind": per_kind,
        "builtin_styles": pooled(per_kind, data.STYLES),
        "not_drawn_trained_kinds": pooled(per_kind, data.TRAINED_KINDS),
        "never_trained_kind": pooled(per_kind, [data.UNSEEN_KIND]),
        "bare_all": pooled(per_kind, data.BARE_KINDS),
        "bare_plain": pooled(per_kind, ["bare"]),
    }
    if args.loko_folds > 0:
        loko = {}
        folds = [0] if args.quick else list(range(min(args.loko_folds, args.folds)))
        for kind in data.TRAINED_KINDS:
            s = cross_validate(ex, fold_of_photo, args, drop_kind=kind, only_folds=folds)
            loko[kind] = figures(ex, s, [kind])[kind]
        result["leave_one_kind_out"] = loko
    return result


def to_tflite(tf, model) -> bytes:
    """The Keras model as a float32 TFLite flatbuffer."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):  # Keras prints the traced signature
        conv = tf.lite.TFLiteConverter.from_keras_model(model)
        return bytes(conv.convert())


def check_tflite(path: Path, keras_scores: np.ndarray, x: np.ndarray) -> dict[str, float]:
    """Load the written model as fermask will (``MaskPresence``) and compare it with Keras."""
    runtime = MaskPresence(path)
    got = runtime.scores(x)
    return {"max_abs_difference_to_keras": float(np.abs(got - keras_scores).max()), "checked_crops": int(len(x))}


def description(args, photos, nonfaces, ex, measured, model_bytes, check, seconds) -> dict:
    """What ``mask_presence.json`` says: the model, its input, how it was made, on what, and how well it does."""
    command = "python recipes/build_mask_presence.py --faces ../shared/faces --out src/fermask/assets"
    command += f" --seed {args.seed} --folds {args.folds} --epochs {args.epochs} --loko-folds {args.loko_folds}"
    command += " --quick" if args.quick else ""
    kinds, counts = np.unique(ex["kind"], return_counts=True)
    return {
        "what": "fermask's mask-presence classifier: the probability that a face wears a mask or anything "
                "else over the mouth and nose (fermask.faces.MaskPresence)",
        "model_file": "mask_presence.tflite",
        "model_sha256": hashlib.sha256(model_bytes).hexdigest(),
        "model_bytes": len(model_bytes),
        "format": "TFLite, float32; input (n, 64, 64, 3) float32 RGB pixels 0-255; output (n, 1) P(masked)",
        "input": {"crop": "fermask.faces.presence_crop(image, box): the face box made square, grown by the "
                          "margin on each side, RGB (gray repeated), resized bilinearly",
                  "crop_size": CROP_SIZE, "crop_margin": CROP_MARGIN},
        "threshold": MASKED_THRESHOLD,
        "recipe": {"command": command, "seed": args.seed, "folds": args.folds, "epochs": args.epochs,
                   "loko_folds": args.loko_folds, "quick": args.quick, "seconds": round(seconds, 1), "tensorflow": _tf_version()},
        "training_data": {
            "faces_folder": "../shared/faces (see its README.md)",
            "provenance_sha256": data.sha256_of(args.faces / "provenance.csv"),
            "photos": [{"file": p.file, "sha256": p.sha256, "licence": p.licence, "person": p.person} for p in photos],
            "people": len({p.person for p in photos}),
            "texture_photos_for_the_never_trained_kind_only": [r["file"] for r in nonfaces],
            "examples_per_kind": {str(k): int(c) for k, c in zip(kinds, counts)},
        },
        "licences": "Faces: CC BY 4.0 (London set, Canada set, composites) and CC0 (Lisa DeBruine); "
                    "non-face textures: Pixabay License. Attribution below.",
        "citations": CITATIONS,
        "measured": {
            "how": f"{args.folds}-fold cross-validation with people kept apart (both London photos of an id, "
                   "every photo of Lisa DeBruine, in one fold); each example is scored by the model that "
                   "did not train on its person; share called right at the threshold. Examples are "
                   "augmented (sizes, rotation, box shifts, light, blur, JPEG, gray). Leave-one-kind-out: "
                   "models trained without that occluder kind, measured on it (held-out people).",
            "targets": {"builtin_styles": TARGETS["builtin"], "not_drawn": TARGETS["not_drawn"],
                        "bare": TARGETS["bare"]},
            **measured,
        },
        "tflite_check": check,
        "not_taught": [
            "Real photos of masked people: every mask was drawn on a bare photo (fermask's renderer or the "
            "recipe's occluders), so real masks' folds, shadows, straps and fit were never seen.",
            "Faces turned far from frontal, profile views, faces smaller than about 40 px: the photos are "
            "frontal portraits, drawn at 40-128 px and rotated at most 15 degrees.",
            "Sunglasses, hats, hair over the face, microphones, food or drinks at the mouth.",
            "Masks worn under the nose or on the chin only count as bare if the mouth is uncovered: a mask "
            "below the nose but over the mouth was never shown, so its score is not defined by training.",
            "Children and older people are few or absent; the Canada set is young white adults.",
            "Boxes far from fermask's HOG boxes: training boxes were HOG's, shifted and scaled by up to "
            "about 15 % (some larger and lower, like BlazeFace's).",
        ],
    }


def _tf_version() -> str:
    import tensorflow as tf

    return str(tf.__version__)


def plot(measured: dict, path: Path) -> None:
    """Bars of the cross-validated share right, per kind, with the targets."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    per = measured["per_kind"]
    loko = measured.get("leave_one_kind_out", {})
    groups = [
        ("fermask's styles", list(data.STYLES), TARGETS["builtin"], "#4c72b0"),
        ("not drawn by fermask", list(data.TRAINED_KINDS), TARGETS["not_drawn"], "#dd8452"),
        ("left out of training", [f"{k} (left out)" for k in loko] + [f"{data.UNSEEN_KIND} (never)"],
         TARGETS["not_drawn"], "#c44e52"),
        ("bare", list(data.BARE_KINDS), TARGETS["bare"], "#55a868"),
    ]
    values = {**{k: v["accuracy"] for k, v in per.items()}, **{f"{k} (left out)": v["accuracy"] for k, v in loko.items()},
              f"{data.UNSEEN_KIND} (never)": per.get(data.UNSEEN_KIND, {}).get("accuracy", float("nan"))}
    fig, ax = plt.subplots(figsize=(11, 4.2))
    x = 0
    for name, kinds, target, colour in groups:
        kinds = [k for k in kinds if k in values]
        if not kinds:
            continue
        xs = np.arange(x, x + len(kinds))
        ax.bar(xs, [100 * values[k] for k in kinds], color=colour, label=name)
        ax.hlines(100 * target, xs[0] - 0.45, xs[-1] + 0.45, colors="black", linestyles="--", linewidth=1)
        x += len(kinds) + 1
    low = min(80, 100 * min(values.values()) - 3)
    for bar in ax.patches:  # each value at its bar's foot, clear of the dashed targets near the top
        top = bar.get_height()
        inside = top - low > 12
        ax.text(bar.get_x() + bar.get_width() / 2, low + 1.5 if inside else top + 1, f"{top:.1f}", ha="center",
                fontsize=8, color="white" if inside else "black", fontweight="bold" if inside else "normal")
    labels = [k for _, kinds, _, _ in groups for k in [*[k for k in kinds if k in values], ""]]
    ax.set_xticks(np.arange(len(labels)))
    ax.set_xticklabels(labels, rotation=35, ha="right", fontsize=8)
    ax.set_ylim(low, 102)
    ax.set_ylabel("called right (%)")
    ax.set_title("Mask presence, cross-validated by person (dashed: targets)", pad=26)
    ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4, frameon=False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)


def select_quick(photos: list) -> list:
    """A tiny subset for ``--quick``: six people, a few photos."""
    keep, people = [], []
    for p in photos:
        if p.person not in people and len(people) < 6 and (p.file.startswith(("london/", "canada/", "lisa/"))):
            people.append(p.person)
        if p.person in people and sum(q.person == p.person for q in keep) < 2:
            keep.append(p)
    return keep


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.replot:
        plot(json.loads((args.out / "mask_presence.json").read_text(encoding="utf-8"))["measured"], args.plot)
        print(f"wrote {args.plot}")
        return 0
    start = time.perf_counter()
    progress = not args.quiet
    photos, nonfaces = data.list_photos(args.faces)
    if args.quick:
        photos = select_quick(photos)
    plan = data.Plan(1, 1, 3, 1) if args.quick else data.Plan()
    data.find_faces(photos, args.faces, progress)
    textures = data.load_textures(args.faces, nonfaces)
    ex = data.build_examples(photos, plan, args.seed, textures, progress)
    folds = assign_folds([p.person for p in photos], args.folds, args.seed)
    fold_of_photo = np.array([folds[p.person] for p in photos])
    measured = measure(ex, fold_of_photo, args)
    trainable = ex["kind"] != data.UNSEEN_KIND
    model = train(ex["x"][trainable], ex["y"][trainable], args.seed, args.epochs, "final model", progress)
    tf, _ = setup_tf(args.seed)
    model_bytes = to_tflite(tf, model)
    args.out.mkdir(parents=True, exist_ok=True)
    model_path = args.out / "mask_presence.tflite"
    model_path.write_bytes(model_bytes)
    probe = ex["x"][:: max(1, len(ex["x"]) // 512)]
    check = check_tflite(model_path, predict(model, probe), probe)
    info = description(args, photos, nonfaces, ex, measured, model_bytes, check, time.perf_counter() - start)
    (args.out / "mask_presence.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    plot(measured, args.plot)
    report(measured, model_bytes, time.perf_counter() - start)
    return 0


def report(measured: dict, model_bytes: bytes, seconds: float) -> None:
    """The figures, printed."""
    print(f"model: {len(model_bytes)} bytes, sha256 {hashlib.sha256(model_bytes).hexdigest()[:16]}; {seconds:.0f} s")
    for kind, f in measured["per_kind"].items():
        print(f"  {kind:12s} {100 * f['accuracy']:6.2f} %  ({f['wrong']} wrong of {f['n']})")
    for name in ("builtin_styles", "not_drawn_trained_kinds", "never_trained_kind", "bare_all", "bare_plain"):
        f = measured[name]
        print(f"  {name:24s} {100 * f['accuracy']:6.2f} %  ({f['wrong']} wrong of {f['n']})")
    for kind, f in measured.get("leave_one_kind_out", {}).items():
        print(f"  {kind + ' left out':24s} {100 * f['accuracy']:6.2f} %  ({f['wrong']} wrong of {f['n']})")


if __name__ == "__main__":
    sys.exit(main())
