"""The report's experiment suite on masked FER2013 (``fermask reproduce``).

The masked-FER report this project grew from ran these experiments; this
module runs them again, the same way, and puts the measured accuracies beside
the published ones:

1. Take 5,000 FER2013 training images (``full=True``: all of them), mask them
   (surgical mask, kept in colour on the gray face, as the report did) and
   drop the images where no face was found.
2. Split 90/10 into train and dev (stratified, seeded).
3. Train and evaluate:

   * ``shallow_cnn`` -- the report's shallow CNN (48x48 gray);
   * ``resnet50_head`` -- a ResNet50 backbone (ImageNet weights) with a dense
     head on the 3-channel masked faces, learning rate 1e-4;
   * ``happy_capped`` -- the shallow CNN with "happy" capped at 3,500 images;
   * ``happy_binary`` -- happy vs. not with the Coursera "HappyModel" (64x64 RGB).

4. Write ``results.md`` and ``results.json``: one table with each
   experiment's train/dev accuracy beside the report's figure; each
   experiment's run folder (bundle, history, curves, evaluation) sits beside it.

The table says where the data came from (its source and a sha256 of its
images and labels) and puts **SYNTHETIC data** at its top whenever the data
is fermask's synthetic data (see :func:`synthetic_origin`); data whose size or
training class counts are not FER2013's gets a warning.

Measured accuracies are those of the final model in inference mode (no
dropout, no augmentation) on the train and dev parts of the split.

Examples:
    >>> from fermask.reproduce import EXPERIMENTS
    >>> [e.name for e in EXPERIMENTS]
    ['shallow_cnn', 'resnet50_head', 'happy_capped', 'happy_binary']
    >>> reproduce("fer2013.csv", out_dir="repro")  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from ._choices import Policy
from ._files import write_json_atomic
from .data.dataset import FERDataset
from .data.load import FER2013_HELP, DataNotFoundError, load_fer_data
from .data.origin import (
    FER2013_ROWS,
    FER2013_TRAINING_COUNTS,
    SYNTHETIC_SEEDS,
    content_sha256,
    differences_from_fer2013,
    synthetic_origin,
    training_rows,
)
from .data.synthetic import SYNTHETIC_SOURCE
from .errors import FermaskError

__all__ = [
    "Experiment",
    "EXPERIMENTS",
    "HUMAN_BASELINE",
    "ReproductionResult",
    "DataNotFoundError",
    "FER2013_HELP",
    "FER2013_ROWS",
    "FER2013_TRAINING_COUNTS",
    "SYNTHETIC_SEEDS",
    "load_fer_data",
    "reproduce",
    "synthetic_origin",
]

@dataclass(frozen=True)
class Experiment:
    """One experiment of the report.

    Attributes:
        name: Short name (also the run folder's name).
        title: What it is, for the table.
        model: The registered model name.
        model_options: Builder options.
        view: ``"all"`` (7 emotions), ``"happy_capped"`` (happy capped at
            ``cap`` images) or ``"happy_binary"`` (happy vs. not).
        learning_rate: Adam's learning rate.
        epochs: Default number of epochs.
        published_train: The report's training accuracy (``None``: not given).
        published_dev: The report's dev accuracy.
        published_note: How to read the published figure.
    """

    name: str
    title: str
    model: str
    model_options: dict[str, Any] = field(default_factory=dict)
    view: str = "all"
    learning_rate: float = 1e-3
    epochs: int = 30
    published_train: float | None = None
    published_dev: float | None = None
    published_note: str = ""


CAP_HAPPY = 3500

EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment(
        "shallow_cnn",
        "shallow CNN, 7 emotions (48x48 gray)",
        "shallow_cnn",
        epochs=30,
        published_train=0.89,
        published_dev=0.29,
        published_note="after tuning; the first run overfit: ~100% train / 17% dev",
    ),
    Experiment(
        "resnet50_head",
        "ResNet50 (ImageNet) + dense head, 7 emotions (3-channel masked faces)",
        "resnet50_head",
        model_options={"weights": "imagenet", "backbone_size": 96},
        learning_rate=1e-4,
        epochs=10,
        published_train=0.343,
        published_dev=0.335,
    ),
    Experiment(
        "happy_capped",
        f"shallow CNN, happy capped at {CAP_HAPPY:,} images",
        "shallow_cnn",
        view="happy_capped",
        epochs=30,
        published_train=0.306,
        published_dev=0.29,
    ),
    Experiment(
        "happy_binary",
        "happy vs. not, HappyModel (64x64 RGB)",
        "happy_binary",
        view="happy_binary",
        epochs=20,
        published_train=0.787,
        published_dev=0.63,
    ),
)
"""The report's experiments, in its order."""

HUMAN_BASELINE = {"name": "human", "title": "humans on 50 masked images", "published_dev": 0.56}
"""The report's human baseline (not measured by fermask)."""


@dataclass
class ReproductionResult:
    """What :func:`reproduce` returns.

    Attributes:
        rows: One dict per experiment (and the human baseline): measured and
            published accuracies, image counts, run folder, error if it failed.
        markdown: The results table as Markdown (also in ``results.md``).
        out_dir: The output folder.
        data: A description of the data and of the masking.
    """

    rows: list[dict[str, Any]]
    markdown: str
    out_dir: Path
    data: dict[str, Any]

    @property
    def failed(self) -> list[str]:
        """Names of the experiments that raised an error."""
        return [r["name"] for r in self.rows if r.get("error")]


# --------------------------------------------------------------------------- steps
def _views(train: FERDataset, dev: FERDataset, masked: FERDataset, exp: Experiment, seed: int) -> tuple[FERDataset, FERDataset, str]:
    if exp.view == "all":
        return train, dev, ""
    if exp.view == "happy_binary":
        return train.binary("happy"), dev.binary("happy"), ""
    if exp.view == "happy_capped":
        before = masked.class_counts()["happy"]
        capped = masked.cap({"happy": CAP_HAPPY}, seed=seed)
        tr, dv = capped.split(fraction=0.1, seed=seed)
        note = "" if before > CAP_HAPPY else f"the cap changes nothing here: only {before:,} happy images"
        return tr, dv, note
    raise FermaskError(f"unknown experiment view {exp.view!r}")


def _choose(experiments: Sequence[str] | None) -> list[Experiment]:
    """The experiments to run, in the report's order (all when none are named)."""
    if not experiments:
        return list(EXPERIMENTS)
    names = [e.name for e in EXPERIMENTS]
    unknown = [x for x in experiments if x not in names]
    if unknown:
        raise FermaskError(f"unknown experiment(s) {unknown}; choose from {', '.join(names)}")
    return [e for e in EXPERIMENTS if e.name in experiments]


def _prepare_out_dir(out: Path, overwrite: bool) -> Path:
    if (out / "results.json").exists() and not overwrite:
        raise FermaskError(
            f"'{out}' already holds a reproduction (results.json); choose another --out or pass --overwrite"
        )
    out.mkdir(parents=True, exist_ok=True)
    return out


def _warning(read: FERDataset, quick: bool) -> str | None:
    """What makes this data or run not comparable to the report's, or ``None``."""
    parts = differences_from_fer2013(read)
    if quick:
        parts.append("--quick run: minimal epochs and a tiny ResNet input, the numbers mean nothing")
    return "; ".join(parts) or None


def _load(
    data: str | os.PathLike[str] | FERDataset | None, *, full: bool, n_images: int, limit: int | None, seed: int, progress: bool
) -> tuple[FERDataset, FERDataset]:
    """``(the data as read, the training images to mask)``: ``limit``, Training rows, ``n_images`` unless ``full``."""
    read = data if isinstance(data, FERDataset) else load_fer_data(data, progress=progress)
    ds = read
    if limit is not None:
        ds = ds.subset(min(int(limit), len(ds)), seed=seed)
    ds = training_rows(ds)
    if not full and len(ds) > n_images:
        ds = ds.subset(int(n_images), seed=seed)
    return read, ds


def _masking_text(masked: FERDataset, used: int) -> str:
    m = masked.notes.get("masking", {})
    policy = (masked.masking or {}).get("faces", {}).get("policy")
    how = f" with face_policy '{policy}'" if policy else ""
    return (
        f"{m.get('masked', len(masked)):,} of {used:,} images masked{how} ({m.get('dropped', 0):,} dropped: no face found); "
        "the report masked 5,000 and kept 3,493"
    )


def _run_experiment(
    exp: Experiment,
    parts: tuple[FERDataset, FERDataset, FERDataset],
    out: Path,
    n_epochs: int,
    *,
    resnet_weights: str | None,
    quick: bool,
    seed: int,
    overwrite: bool,
    progress: bool,
) -> dict[str, Any]:
    """Train and evaluate one experiment on ``(train, dev, all masked)``; its table row (``error`` if it failed)."""
    from .evaluation import evaluate
    from .training import TrainConfig, train

    row: dict[str, Any] = {
        "name": exp.name,
        "title": exp.title,
        "model": exp.model,
        "published_train": exp.published_train,
        "published_dev": exp.published_dev,
        "published_note": exp.published_note,
        "run_dir": str(out / exp.name),
    }
    t0 = time.perf_counter()
    try:
        tr, dv, view_note = _views(*parts, exp, seed)
        row["note"] = view_note
        row["n_train"], row["n_dev"] = len(tr), len(dv)
        options = dict(exp.model_options)
        if exp.model == "resnet50_head":
            options["weights"] = resnet_weights
            if quick:
                options["backbone_size"] = 32
            if resnet_weights is None:
                row["note"] = "; ".join(x for x in (row["note"], "ResNet50 trained from scratch (no ImageNet weights)") if x)
        cfg = TrainConfig(
            model=exp.model,
            model_options=options,
            optimizer="adam",
            learning_rate=exp.learning_rate,
            batch_size=64,
            epochs=n_epochs,
            seed=seed,
            run_eagerly=quick,  # a few steps: eager is far faster than tracing the graph
        )
        result = train(tr, cfg, validation=dv, out_dir=out / exp.name, overwrite=overwrite, progress=progress)
        row["train_accuracy"] = evaluate(result.model, tr).accuracy
        dev_report = result.evaluation if result.evaluation is not None else evaluate(result.model, dv)
        row["dev_accuracy"] = dev_report.accuracy
        row["dev_macro_f1"] = dev_report.macro_f1
        row["bundle"] = str(result.bundle_path)
        row["epochs"] = result.metrics.get("epochs_run")
        row["fit_seconds"] = result.metrics.get("fit_seconds")
        if result.interrupted:
            row["note"] = "; ".join(x for x in (row["note"], "interrupted") if x)
    except FermaskError as exc:
        row["error"] = str(exc)
    row["seconds"] = round(time.perf_counter() - t0, 1)  # building, training and evaluating
    return row


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.1f}%"


def _minutes(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds / 60:.1f} min"


def _markdown(rows: list[dict[str, Any]], data: dict[str, Any]) -> str:
    title = "# fermask reproduce: the masked-FER2013 experiment suite"
    lines = [title + (" — on SYNTHETIC data" if data.get("synthetic") else ""), ""]
    if data.get("synthetic"):
        lines += [
            "**SYNTHETIC data, not FER2013: these accuracies say nothing about facial-expression recognition "
            f"and are not comparable to the report's.** ({data['synthetic']})",
            "",
        ]
    if data.get("note"):
        lines += [f"**{data['note']}**", ""]
    if data.get("warning"):
        lines += [f"**Warning: {data['warning']}**", ""]
    lines += [
        f"- Data: {data['source']} ({data['rows']:,} images read, {data['used']:,} used; "
        f"sha256 of images and labels {data['sha256'][:16]}…)",
        f"- Masking: {data['masking']}",
        f"- Split: 90% train / 10% dev, stratified, seed {data['seed']}",
        f"- Epochs: {data['epochs']}; finished {data['finished']} in {data['minutes']:.1f} min",
        "- Measured: the final model in inference mode on the train and dev parts. "
        "Report: the published figure (see docs/reproduce.md). Time: building, training and evaluating.",
        "",
        "| experiment | train images | dev images | train acc. (measured) | dev acc. (measured) "
        "| train acc. (report) | dev acc. (report) | time | notes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        notes = "; ".join(x for x in (r.get("published_note"), r.get("note"), r.get("error") and f"failed: {r['error']}") if x)
        lines.append(
            f"| {r['title']} | {r.get('n_train') or '—'} | {r.get('n_dev') or '—'} | {_pct(r.get('train_accuracy'))} "
            f"| {_pct(r.get('dev_accuracy'))} | {_pct(r.get('published_train'))} | {_pct(r.get('published_dev'))} "
            f"| {_minutes(r.get('seconds'))} | {notes.replace('|', '/')} |"
        )
    return "\n".join(lines) + "\n"


def reproduce(
    data: str | os.PathLike[str] | FERDataset | None,
    *,
    out_dir: str | os.PathLike[str] = "fermask-reproduce",
    full: bool = False,
    n_images: int = 5000,
    epochs: int | None = None,
    quick: bool = False,
    experiments: Sequence[str] | None = None,
    resnet_weights: str | None = "imagenet",
    masker: Any = None,
    face_policy: Policy = "auto",
    workers: int | None = None,
    seed: int = 0,
    limit: int | None = None,
    note: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> ReproductionResult:
    """Run the report's experiment suite and write the comparison table.

    Args:
        data: FER2013 as a CSV path, a folder (see :data:`FER2013_HELP`) or a
            :class:`~fermask.FERDataset`.
        out_dir: Where the table and the run folders go.
        full: Mask and use every training image instead of ``n_images``.
        n_images: Images to mask (the report used 5,000).
        epochs: Epochs for every experiment (default: each experiment's own).
        quick: A fast smoke run: 1 epoch (unless ``epochs``), ResNet50 at
            32x32 inside the model. The numbers mean nothing.
        experiments: Names of the experiments to run (default: all).
        resnet_weights: ``"imagenet"``, the path of the ResNet50 no-top
            weights file, or ``None`` (random initialisation; not the report's setting).
        masker: A :class:`~fermask.Masker`; default
            ``Masker("surgical", keep_color=True, seed=seed, face_policy=face_policy)``.
        face_policy: The default masker's face policy: ``"auto"`` (a 48x48
            crop where no face is detected is masked as one whole-frame face),
            ``"detect"`` (only detected faces are masked, the rest dropped, as
            the report's MaskTheFace did) or ``"full_frame"``. Ignored when
            ``masker`` is given.
        workers: Masking worker processes (``None``: all CPUs).
        seed: Seed of the subset, the masking, the split and training.
        limit: Use only this many images of the file (for tests and trials).
        note: Free text printed at the top of the table. Synthetic data is
            marked without it (see :func:`synthetic_origin`).
        overwrite: Replace a previous reproduction in ``out_dir``.
        progress: Show progress bars.

    Returns:
        A :class:`ReproductionResult`.

    Raises:
        DataNotFoundError: No data, or a missing path.
    """
    t0 = time.perf_counter()
    chosen = _choose(experiments)
    out = _prepare_out_dir(Path(out_dir), overwrite)
    read, ds = _load(data, full=full, n_images=n_images, limit=limit, seed=seed, progress=progress)
    origin = synthetic_origin(read)
    if origin and SYNTHETIC_SOURCE not in ds.source:  # so that run folders and bundles say it too
        ds = copy.copy(ds)
        ds.source = f"{SYNTHETIC_SOURCE}, recognised from its pixels: {ds.source}"
    info: dict[str, Any] = {
        "source": ds.source,
        "synthetic": origin,
        "sha256": content_sha256(read),
        "rows": len(read),
        "used": len(ds),
        "seed": seed,
        "note": note,
        "warning": _warning(read, quick),
        "full": full,
        "quick": quick,
    }
    if masker is None:
        from .masker import Masker

        masker = Masker("surgical", keep_color=True, seed=seed, face_policy=face_policy)
    masked = ds.mask(masker, on_no_face="drop", workers=workers, progress=progress)
    train_all, dev_all = masked.split(fraction=0.1, seed=seed)

    rows: list[dict[str, Any]] = []
    epochs_used: dict[str, int] = {}
    for exp in chosen:
        n_epochs = int(epochs) if epochs is not None else (1 if quick else exp.epochs)
        row = _run_experiment(exp, (train_all, dev_all, masked), out, n_epochs, resnet_weights=resnet_weights,
                              quick=quick, seed=seed, overwrite=overwrite, progress=progress)
        if "n_train" in row:  # its data view was made, so it was set to train for n_epochs
            epochs_used[exp.name] = n_epochs
        rows.append(row)
    rows.append({**HUMAN_BASELINE, "published_train": None, "published_note": "the report's human baseline, not measured here"})

    info.update(
        masking=_masking_text(masked, len(ds)),
        masker=masker.config() if hasattr(masker, "config") else None,
        epochs=", ".join(f"{k} {v}" for k, v in epochs_used.items()) or "—",
        finished=time.strftime("%Y-%m-%d %H:%M"),
        minutes=(time.perf_counter() - t0) / 60,
    )
    text = _markdown(rows, info)
    (out / "results.md").write_text(text, encoding="utf-8")
    write_json_atomic(out / "results.json", {"data": info, "rows": rows}, default=str)
    return ReproductionResult(rows=rows, markdown=text, out_dir=out, data=info)
