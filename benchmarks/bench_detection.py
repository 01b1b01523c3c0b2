"""Finding masked faces (issue 27): recall, false boxes and speed of fermask's face detectors.

Every detector named in ``--detectors`` runs, through
``FaceAnalyzer(detector=name).detect(image)``, on one photo set, in one
process, one photo at a time and one detector after the other on each photo
(so drifts in this shared machine's speed hit every detector alike), pinned to
one CPU core.

The photo set (built once, cached under ``--work``):

- **portraits**: the real photos of ``../shared/faces`` (``london/neutral``,
  ``london/smiling``, ``canada``, ``composite``, ``lisa``, ``zoom``; the last
  two are one person at varied distance, size and rotation), as they are
  (576x768 to 675x900);
- **scenes**: 2-5 faces cut from those portraits (head and some background,
  soft-edged, some mirrored) pasted at 50-350 px face width onto the photos of
  ``nonfaces/`` (scaled to cover), at 640x480, 1600x1200 and 2000x1500;
- **no face**: the ``nonfaces/`` photos as they are (640 px wide) and
  scaled to 1600 px wide.

Ground truth: the faces ``FaceAnalyzer(detector="hog")`` finds on each bare
photo, with their 68 landmarks. Each photo with such faces is measured bare,
masked with every built-in style (``Masker(style=name).mask_faces``, all its
faces with the same style) and covered with every kind of ``occluders.py``
(masks fermask did not draw: polygon, scarf, hand), placed from those
landmarks.

Figures:

- **recall**: the share of ground-truth faces a detector finds on that
  variant; a face counts as found when one of the detector's boxes overlaps
  its box by IoU >= ``--iou`` (0.3), each box matching one face at most
  (greedy, largest IoU first). ``worst style`` is the lowest over the
  built-in styles (the issue asks >= 97 % on each), ``other`` the pooled
  recall over the occluder kinds (reported apart);
- **extra boxes**: on face photos (all variants), boxes that match no
  ground-truth face and whose centre lies on no known face (a pasted face,
  or the hand-placed ``.tem`` outline of a portrait): per 100 photos;
- **false boxes**: boxes on the no-face photos, in all, and the number of
  such photos with any box;
- **photos/s**: detector calls per second of wall time on the 640x480 photos
  (every variant of the 640x480 scenes), on photos of 1,500 px and more (every
  variant of the large scenes, and the large no-face photos) and on the whole
  (mixed-size) set; the time of ``detect`` only, images already decoded;
  ``x hog`` divides by the HOG row's figure;
- **recall by face width**: the same recall split by the ground-truth box's
  width, over bare photos, over all built-in styles, and over other masks;
- **pasted faces found**: on the bare scenes, the share of all pasted faces
  (HOG's misses included) a detector finds, by pasted face width.

Detector names ``FaceAnalyzer`` does not accept yet are skipped with a note.
``--raw-blaze DIR`` adds the two BlazeFace models of ``DIR`` called directly
(``fermask.faces._blazeface.BlazeFace``) as rows ``blaze-short-raw`` and
``blaze-full-raw``.

Run from the repository root (``--quick``: a few photos, for a smoke run)::

    python benchmarks/bench_detection.py --quick
    python benchmarks/bench_detection.py --work /tmp/detbench --json detection.json
    python benchmarks/bench_detection.py --detectors hog,blazeface,hybrid,cnn --faces ../shared/faces
    python benchmarks/bench_detection.py --detectors hog --raw-blaze ~/.cache/fermask/detectors
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SET_VERSION = 1
PORTRAIT_DIRS = ("london/neutral", "london/smiling", "canada", "composite", "lisa", "zoom")
CUT_FROM = ("london/neutral", "london/smiling", "canada", "composite")
#: Scene groups: (size, scenes per no-face photo, largest pasted face width).
SCENES = {"scene640": ((640, 480), 2, 200), "scene1600": ((1600, 1200), 1, 350), "scene2000": ((2000, 1500), 1, 350)}
NONFACE_LARGE = 1600
SMALLEST_FACE = 50
WIDTH_BINS = (0, 80, 120, 200, 350, 10**6)
RAW_BLAZE = {"blaze-short-raw": ("face_detection_short_range.tflite", "short"),
             "blaze-full-raw": ("face_detection_full_range_sparse.tflite", "full")}
Box = tuple[float, float, float, float]


@dataclass
class Photo:
    """One bare photo of the set and what is known about its faces."""

    name: str
    group: str
    path: str
    size: tuple[int, int]
    known: list[Box] = field(default_factory=list)
    pasted: list[Box] = field(default_factory=list)
    truth: list[dict] = field(default_factory=list)


# -- the photo set ------------------------------------------------------------
def read_rgb(path: str | Path) -> np.ndarray:
    """A photo as an RGB ``uint8`` array."""
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def tem_outline(jpg: Path) -> list[Box]:
    """The box around the hand-placed template points beside a portrait, if any."""
    tem = jpg.with_suffix(".tem")
    if not tem.is_file():
        return []
    lines = tem.read_text().split("\n")
    n = int(lines[0].split()[0])
    pts = np.array([[float(v) for v in line.split()[:2]] for line in lines[1 : n + 1]])
    return [(float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max()))]


def portraits(faces: Path, quick: bool) -> list[Photo]:
    """The real portraits, every one (``quick``: the first two of each folder)."""
    out = []
    for folder in PORTRAIT_DIRS:
        files = sorted((faces / folder).glob("*.jpg"))[: 2 if quick else None]
        for f in files:
            with Image.open(f) as img:
                size = img.size
            out.append(Photo(f"{folder}/{f.stem}", "portrait", str(f), size, known=tem_outline(f)))
    return out


def hog_truth(photo: Photo, analyzer) -> list[dict]:
    """The faces HOG finds on a bare photo: box and 68 landmarks."""
    faces = analyzer.find(read_rgb(photo.path))
    return [{"box": [int(v) for v in f.box], "landmarks": np.round(f.landmarks, 2).tolist()} for f in faces]


def cutout(photo: Photo) -> tuple[Image.Image, Box]:
    """A portrait's head with some background, soft-edged (RGBA), and the face box inside it."""
    left, top, right, bottom = photo.truth[0]["box"]
    w = right - left
    img = Image.open(photo.path).convert("RGB")
    crop = (max(0, int(left - 0.45 * w)), max(0, int(top - 0.6 * w)),
            min(img.width, int(right + 0.45 * w)), min(img.height, int(bottom + 0.45 * w)))
    head = img.crop(crop)
    alpha = Image.new("L", head.size, 0)
    pad = 0.06 * head.width
    ImageDraw.Draw(alpha).ellipse([pad, pad, head.width - pad, head.height - pad], fill=255)
    head.putalpha(alpha.filter(ImageFilter.GaussianBlur(pad / 2)))
    return head, (left - crop[0], top - crop[1], right - crop[0], bottom - crop[1])


def cover_size(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``img`` scaled to cover ``size`` and cut to it, centred."""
    scale = max(size[0] / img.width, size[1] / img.height)
    big = img.resize((max(size[0], round(img.width * scale)), max(size[1], round(img.height * scale))),
                     Image.LANCZOS)
    x, y = (big.width - size[0]) // 2, (big.height - size[1]) // 2
    return big.crop((x, y, x + size[0], y + size[1]))


def _free_spot(rng: np.random.Generator, size: tuple[int, int], wh: tuple[int, int],
               taken: list[Box]) -> tuple[int, int] | None:
    """A top-left corner where a ``wh`` rectangle fits inside ``size`` without touching ``taken``."""
    if wh[0] > size[0] or wh[1] > size[1]:
        return None
    for _ in range(60):
        x, y = int(rng.integers(0, size[0] - wh[0] + 1)), int(rng.integers(0, size[1] - wh[1] + 1))
        if all(x + wh[0] <= a or a2 <= x or y + wh[1] <= b or b2 <= y for a, b, a2, b2 in taken):
            return x, y
    return None


def compose(background: Image.Image, heads: list[tuple[Image.Image, Box]], size: tuple[int, int],
            widest: int, rng: np.random.Generator) -> tuple[Image.Image, list[Box]]:
    """2-5 heads pasted at varied face widths (log-uniform) onto ``background``; the pasted face boxes."""
    scene = cover_size(background.convert("RGB"), size)
    taken: list[Box] = []
    boxes: list[Box] = []
    for _ in range(int(rng.integers(2, 6))):
        head, (l, t, r, b) = heads[int(rng.integers(len(heads)))]
        if rng.random() < 0.5:
            head, (l, r) = head.transpose(Image.FLIP_LEFT_RIGHT), (head.width - r, head.width - l)
        width = float(np.exp(rng.uniform(np.log(SMALLEST_FACE), np.log(widest))))
        spot = None
        while spot is None and width >= SMALLEST_FACE:
            k = width / (r - l)
            wh = (max(1, round(head.width * k)), max(1, round(head.height * k)))
            spot = _free_spot(rng, size, wh, taken)
            width = width if spot else width * 0.8
        if spot is None:
            continue
        scene.paste(head.resize(wh, Image.LANCZOS), spot, head.resize(wh, Image.LANCZOS))
        taken.append((spot[0], spot[1], spot[0] + wh[0], spot[1] + wh[1]))
        boxes.append((spot[0] + l * k, spot[1] + t * k, spot[0] + r * k, spot[1] + b * k))
    return scene, boxes


def scenes_and_nonfaces(faces: Path, folder: Path, heads: list, quick: bool, seed: int) -> list[Photo]:
    """The composed scenes and the no-face photos, written as PNG under ``folder``."""
    backgrounds = sorted((faces / "nonfaces").glob("*.jpg"))[: 2 if quick else None]
    rng = np.random.default_rng(seed)
    out = []
    for group, (size, per_photo, widest) in SCENES.items():
        for bg in backgrounds:
            for k in range(per_photo):
                with Image.open(bg) as img:
                    scene, boxes = compose(img, heads, size, widest, rng)
                path = folder / f"{group}-{bg.stem}-{k}.png"
                scene.save(path, compress_level=1)
                known = [(a - 0.25 * (c - a), b - 0.25 * (d - b), c + 0.25 * (c - a), d + 0.25 * (d - b))
                         for a, b, c, d in boxes]
                out.append(Photo(path.stem, group, str(path), size, known=known, pasted=boxes))
    for bg in backgrounds:
        with Image.open(bg) as img:
            out.append(Photo(f"nonface640-{bg.stem}", "nonface640", str(bg), img.size))
            large = img.convert("RGB").resize((NONFACE_LARGE, round(img.height * NONFACE_LARGE / img.width)),
                                              Image.LANCZOS)
        path = folder / f"nonface{NONFACE_LARGE}-{bg.stem}.png"
        large.save(path, compress_level=1)
        out.append(Photo(path.stem, f"nonface{NONFACE_LARGE}", str(path), large.size))
    return out


def build_set(faces: Path, work: Path, quick: bool, seed: int, say: Callable[[str], None]) -> list[Photo]:
    """The photo set with its HOG ground truth, read from ``work`` when built there with the same settings."""
    from fermask.faces import FaceAnalyzer

    folder = work / f"set-{'quick' if quick else 'full'}-{seed}"
    manifest = folder / "manifest.json"
    settings = {"version": SET_VERSION, "faces": str(faces.resolve()), "quick": quick, "seed": seed}
    if manifest.is_file():
        saved = json.loads(manifest.read_text())
        if saved["settings"] == settings:
            say(f"photo set: {manifest} (cached)")
            return [Photo(**{**p, "size": tuple(p["size"])}) for p in saved["photos"]]
    folder.mkdir(parents=True, exist_ok=True)
    hog = FaceAnalyzer(detector="hog")
    people = portraits(faces, quick)
    for p in progress(people, "ground truth (portraits)"):
        p.truth = hog_truth(p, hog)
    sources = [p for p in people if p.name.rsplit("/", 1)[0] in CUT_FROM and len(p.truth) == 1]
    heads = [cutout(p) for p in sources]
    others = scenes_and_nonfaces(faces, folder, heads, quick, seed)
    for p in progress([p for p in others if p.group.startswith("scene")], "ground truth (scenes)"):
        p.truth = hog_truth(p, hog)
    photos = people + others
    manifest.write_text(json.dumps({"settings": settings, "photos": [asdict(p) for p in photos]}))
    say(f"photo set: built in {folder}")
    return photos


# -- masked variants ------------------------------------------------------------
def load_occluders():
    """``occluders.py``, from ``benchmarks/`` or ``recipes/`` (whichever holds it)."""
    import importlib.util

    here = Path(__file__).resolve().parent
    for path in (here / "occluders.py", here.parent / "recipes" / "occluders.py"):
        if path.is_file():
            spec = importlib.util.spec_from_file_location("occluders", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    raise FileNotFoundError("occluders.py is in neither benchmarks/ nor recipes/")


class Variants:
    """Makes the bare, style-masked and occluded versions of a photo."""

    def __init__(self) -> None:
        from fermask import Masker
        from fermask.masks import BUILTIN_STYLES

        self.styles = [cls.name for cls in BUILTIN_STYLES]
        self.maskers = {name: Masker(style=name, seed=27) for name in self.styles}
        self.occluders = load_occluders()
        self.kinds = list(self.occluders.KINDS)

    def names(self) -> list[str]:
        """Every variant's name: ``bare``, ``style:NAME``, ``other:KIND``."""
        return ["bare", *(f"style:{s}" for s in self.styles), *(f"other:{k}" for k in self.kinds)]

    def __call__(self, image: np.ndarray, truth: list[dict], index: int) -> Iterator[tuple[str, np.ndarray]]:
        """``(variant, image)`` pairs; only ``bare`` when the photo has no ground-truth face."""
        from fermask.faces import Face

        yield "bare", image
        if not truth:
            return
        faces = [Face(tuple(t["box"]), np.asarray(t["landmarks"], np.float32)) for t in truth]
        for name, masker in self.maskers.items():
            yield f"style:{name}", masker.mask_faces(image, faces, index).image
        for k, kind in enumerate(self.kinds):
            out = image.copy()
            for j, face in enumerate(faces):
                self.cover(out, face, kind, seed=index * 1000 + j * 10 + k)
            yield f"other:{kind}", out

    def cover(self, image: np.ndarray, face, kind: str, seed: int) -> None:
        """``occluders.cover`` on the region around one face (a face width on each side), in place.

        The occluders draw on a canvas the size of the picture they get; a
        region instead of the whole photo makes a 2000x1500 scene 20x faster
        and holds every kind's shape (the hand's palm, the widest, reaches
        0.7 face widths past the jaw).
        """
        left, top, right, bottom = face.box
        w = right - left
        x0, y0 = max(0, int(left - w)), max(0, int(top - w / 2))
        x1, y1 = min(image.shape[1], int(right + w)), min(image.shape[0], int(bottom + w))
        region = np.ascontiguousarray(image[y0:y1, x0:x1])
        image[y0:y1, x0:x1] = self.occluders.cover(region, face.landmarks - np.float32([x0, y0]), kind, seed=seed)


# -- detectors --------------------------------------------------------------------
def make_detectors(names: list[str], raw_blaze: Path | None, say: Callable[[str], None]) -> dict[str, Callable]:
    """``name -> detect(image) -> boxes`` for every name FaceAnalyzer accepts, and the raw BlazeFace rows."""
    from fermask.errors import InvalidChoiceError
    from fermask.faces import FaceAnalyzer

    out: dict[str, Callable] = {}
    for name in names:
        try:
            analyzer = FaceAnalyzer(detector=name)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a fallback is reported below
                analyzer.detect(np.zeros((64, 64, 3), np.uint8))  # loads its models now, outside the timing
        except InvalidChoiceError:
            say(f"note: FaceAnalyzer does not accept detector={name!r} yet; skipped")
            continue
        except Exception as exc:  # a model file missing, ...
            say(f"note: detector={name!r} fails to start ({type(exc).__name__}: {exc}); skipped")
            continue
        runs = analyzer.config()["detector"]  # "hog" where "hybrid" fell back for want of BlazeFace's files
        if runs != name:
            say(f"note: detector={name!r} runs {runs!r} here (missing model files?); measured as {name}->{runs}")
            name = f"{name}->{runs}"
        out[name] = lambda img, a=analyzer: [box for box, _ in a.detect(img)]
    if raw_blaze is not None:
        from fermask.faces._blazeface import BlazeFace

        for name, (file, kind) in RAW_BLAZE.items():
            model = BlazeFace(raw_blaze / file, kind, num_threads=1)
            out[name] = lambda img, m=model: [b.box for b in m(img)]
    return out


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two ``(left, top, right, bottom)`` boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0.0, w) * max(0.0, h)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match(truth: list[Box], found: list[Box], threshold: float) -> tuple[list[bool], list[bool]]:
    """Greedy one-to-one matching, largest IoU first: (each truth found?, each box used?)."""
    pairs = sorted(((iou(t, f), i, j) for i, t in enumerate(truth) for j, f in enumerate(found)), reverse=True)
    hit, used = [False] * len(truth), [False] * len(found)
    for value, i, j in pairs:
        if value < threshold:
            break
        if not hit[i] and not used[j]:
            hit[i] = used[j] = True
    return hit, used


def on_known_face(box: Box, known: list[Box]) -> bool:
    """Whether a box's centre lies inside one of the known face regions."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return any(a <= cx <= c and b <= cy <= d for a, b, c, d in known)


# -- the measurement ----------------------------------------------------------------
def size_class(size: tuple[int, int]) -> str:
    """``640x480``, ``large`` (1,500 px and more) or ``other``, for the speed figures."""
    if tuple(size) == (640, 480):
        return "640x480"
    return "large" if max(size) >= 1500 else "other"


def pin_one_core() -> str:
    """Run this process on one CPU core from now on (the "one thread" rule); which one, in words."""
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"pinned to core {core}"
    return "not pinned (no sched_setaffinity here)"


def measure(photos: list[Photo], detectors: dict[str, Callable], variants: Variants, threshold: float) -> list[dict]:
    """Run every detector on every variant of every photo; one record per (photo, variant, detector)."""
    records = []
    for index, photo in enumerate(progress(photos, "detecting")):
        image = read_rgb(photo.path)
        truth = [tuple(t["box"]) for t in photo.truth]
        for variant, img in variants(image, photo.truth, index):
            for name, detect in detectors.items():
                start = time.perf_counter()
                boxes = detect(img)
                seconds = time.perf_counter() - start
                hit, used = match(truth, boxes, threshold)
                extra = sum(1 for b, u in zip(boxes, used) if not u and not on_known_face(b, photo.known))
                pasted = match(photo.pasted, boxes, threshold)[0] if variant == "bare" else []
                records.append({"detector": name, "photo": photo.name, "group": photo.group, "variant": variant,
                                "speed": size_class(photo.size), "seconds": seconds, "boxes": len(boxes),
                                "extra": extra, "widths": [t[2] - t[0] for t in truth], "hit": hit,
                                "pasted_widths": [p[2] - p[0] for p in photo.pasted], "pasted_hit": pasted})
    return records


# -- the figures ----------------------------------------------------------------------
def ratio(hits: int, total: int) -> float | None:
    """``hits / total``, ``None`` for no total."""
    return hits / total if total else None


def recall_of(records: list[dict], keep: Callable[[dict], bool], key: str = "hit", wkey: str = "widths",
              width: tuple[float, float] = (0, 10**6)) -> dict:
    """Found and total faces over the records ``keep`` selects, faces of a width in ``width`` only."""
    found = total = 0
    for r in records:
        if keep(r):
            for w, h in zip(r[wkey], r[key]):
                if width[0] <= w < width[1]:
                    total += 1
                    found += h
    return {"found": found, "total": total, "recall": ratio(found, total)}


def speed_of(records: list[dict], keep: Callable[[dict], bool]) -> dict:
    """Photos, seconds and photos/s over the records ``keep`` selects."""
    chosen = [r for r in records if keep(r)]
    seconds = sum(r["seconds"] for r in chosen)
    return {"photos": len(chosen), "seconds": seconds, "per_s": ratio(len(chosen), seconds)}


def bins() -> list[tuple[str, tuple[float, float]]]:
    """The face-width bins, named."""
    edges = WIDTH_BINS
    return [(f"{a}-{b}" if b < 10**6 else f">={a}", (a, b)) for a, b in zip(edges[:-1], edges[1:])]


def summarize(records: list[dict], name: str, variants: Variants) -> dict:
    """Every figure of one detector."""
    mine = [r for r in records if r["detector"] == name]
    faces = [r for r in mine if not r["group"].startswith("nonface")]
    nonface = [r for r in mine if r["group"].startswith("nonface")]
    recall = {v: recall_of(faces, lambda r, v=v: r["variant"] == v) for v in variants.names()}
    kinds = {
        "bare": lambda r: r["variant"] == "bare",
        "styles": lambda r: r["variant"].startswith("style:"),
        "other": lambda r: r["variant"].startswith("other:"),
    }
    by_width = {k: {b: recall_of(faces, f, width=w) for b, w in bins()} for k, f in kinds.items()}
    by_group = {k: {g: recall_of(faces, lambda r, f=f, g=g: f(r) and r["group"] == g)
                    for g in ("portrait", *SCENES)} for k, f in kinds.items()}
    bare = [r for r in faces if r["variant"] == "bare"]
    pasted = {b: recall_of(bare, lambda r: True, "pasted_hit", "pasted_widths", w) for b, w in bins()}
    pasted["all"] = recall_of(bare, lambda r: True, "pasted_hit", "pasted_widths")
    misses = [[r["photo"], r["variant"], round(w)] for r in faces for w, h in zip(r["widths"], r["hit"]) if not h]
    return {
        "recall": recall,
        "pooled": {k: recall_of(faces, f) for k, f in kinds.items()},
        "recall_by_width": by_width,
        "recall_by_group": by_group,
        "pasted_found": pasted,
        "extra_boxes": {"boxes": sum(r["extra"] for r in faces), "photos": len(faces)},
        "false_boxes": {"boxes": sum(r["boxes"] for r in nonface),
                        "photos_with_any": sum(r["boxes"] > 0 for r in nonface), "photos": len(nonface)},
        "speed": {k: speed_of(mine, lambda r, k=k: k == "mixed" or r["speed"] == k)
                  for k in ("640x480", "large", "mixed")},
        "misses": misses,
    }


def pct(x: float | None) -> str:
    """A share as a percentage with one decimal, ``-`` for none."""
    return "-" if x is None else f"{100 * x:.1f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def recall_table(summary: dict[str, dict], variants: Variants) -> str:
    """Recall per variant (%), worst built-in style, other masks pooled."""
    styles = [v for v in variants.names() if v.startswith("style:")]
    header = ["detector", *(v.split(":")[-1] for v in variants.names()), "worst style", "other (pooled)"]
    rows = []
    for name, s in summary.items():
        worst = min((s["recall"][v]["recall"] for v in styles if s["recall"][v]["recall"] is not None), default=None)
        rows.append([name, *(pct(s["recall"][v]["recall"]) for v in variants.names()), pct(worst),
                     pct(s["pooled"]["other"]["recall"])])
    totals = next(iter(summary.values()))["recall"] if summary else {}
    rows.append(["(faces)", *(str(totals[v]["total"]) for v in variants.names()), "", ""])
    return table(header, rows)


def speed_table(summary: dict[str, dict]) -> str:
    """False boxes and photos/s, with ratios to HOG."""
    hog = summary.get("hog", {}).get("speed", {})
    header = ["detector", "extra boxes /100 face photos", "false boxes on no-face photos (photos with any)",
              "photos/s 640x480", "x hog", "photos/s >=1500 px", "x hog", "photos/s mixed", "x hog"]
    rows = []
    for name, s in summary.items():
        e, f = s["extra_boxes"], s["false_boxes"]
        cells = [name, f"{100 * e['boxes'] / max(1, e['photos']):.1f}",
                 f"{f['boxes']} ({f['photos_with_any']}/{f['photos']})"]
        for k in ("640x480", "large", "mixed"):
            mine, ref = s["speed"][k]["per_s"], hog.get(k, {}).get("per_s")
            cells += ["-" if mine is None else f"{mine:.1f}", "-" if not (mine and ref) else f"{mine / ref:.2f}"]
        rows.append(cells)
    return table(header, rows)


def width_table(summary: dict[str, dict]) -> str:
    """Recall by ground-truth face width (bare / built-in styles / other masks) and pasted faces found (bare)."""
    names = [b for b, _ in bins()]
    header = ["detector", "set", *(f"{b} px" for b in names), "all"]
    rows = []
    for name, s in summary.items():
        for kind in ("bare", "styles", "other"):
            cells = s["recall_by_width"][kind]
            rows.append([name, kind, *(f"{pct(cells[b]['recall'])} ({cells[b]['total']})" for b in names),
                         pct(s["pooled"][kind]["recall"])])
        p = s["pasted_found"]
        rows.append([name, "pasted, bare", *(f"{pct(p[b]['recall'])} ({p[b]['total']})" for b in names),
                     pct(p["all"]["recall"])])
    return table(header, rows)


def group_table(summary: dict[str, dict]) -> str:
    """Recall by photo group (portraits, scenes of each size): bare / built-in styles / other masks."""
    groups = ("portrait", *SCENES)
    header = ["detector", *(f"{g} {k}" for g in groups for k in ("bare", "styles", "other"))]
    rows = [[name, *(pct(s["recall_by_group"][k][g]["recall"]) for g in groups for k in ("bare", "styles", "other"))]
            for name, s in summary.items()]
    first = next(iter(summary.values()), None)
    if first:
        rows.append(["(faces)", *(str(first["recall_by_group"][k][g]["total"]) for g in groups
                                  for k in ("bare", "styles", "other"))])
    return table(header, rows)


# -- running ---------------------------------------------------------------------------
QUIET = False


def progress(items, desc: str):
    """``items`` with a tqdm bar (none under ``--quiet``)."""
    from tqdm import tqdm

    return tqdm(items, desc=desc, disable=QUIET, file=sys.stderr, leave=False)


def context(detectors: list[str]) -> dict:
    """When, where and with which fermask code the run was made."""
    import fermask
    from fermask._choices import DETECTORS

    src = Path(fermask.__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(src), "log", "-1", "--format=%h %s"], capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(src), "status", "--porcelain", "--", "."], capture_output=True,
                               text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", ""
    return {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "fermask": str(src),
            "commit": commit, "uncommitted_changes": bool(dirty), "detectors_accepted": list(DETECTORS),
            "measured": detectors, "python": platform.python_version(), "machine": platform.platform()}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=Path, default=None,
                        help="the licence-clean face photos (default: the first of ../shared/faces, "
                             "shared/faces and /work/shared/faces that exists)")
    parser.add_argument("--work", type=Path, default=None,
                        help="where the photo set is built and cached (default: a temporary folder)")
    parser.add_argument("--detectors", default="hog,blazeface,hybrid",
                        help="comma-separated FaceAnalyzer detector names (default: hog,blazeface,hybrid)")
    parser.add_argument("--raw-blaze", type=Path, default=None, metavar="DIR",
                        help="also time the BlazeFace .tflite models in DIR, called directly")
    parser.add_argument("--iou", type=float, default=0.3, help="IoU a box needs with a face to find it (default 0.3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the composed scenes")
    parser.add_argument("--quick", action="store_true", help="a few photos only (smoke run)")
    parser.add_argument("--json", type=Path, default=None, help="write every figure (and each miss) here")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or notes")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the process to one CPU core")
    args = parser.parse_args(argv)
    if args.faces is None:
        root = Path(__file__).resolve().parent.parent
        found = [p for p in (root.parent / "shared" / "faces", root / "shared" / "faces", Path("/work/shared/faces"))
                 if (p / "README.md").is_file()]
        args.faces = found[0] if found else root.parent / "shared" / "faces"
    if not (args.faces / "nonfaces").is_dir():
        parser.error(f"no face photos in {args.faces}; give --faces")
    return args


def main(argv: list[str] | None = None) -> int:
    global QUIET
    args = parse_args(argv)
    QUIET = args.quiet
    say = (lambda msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr))
    tmp = None if args.work else tempfile.TemporaryDirectory(prefix="bench-detection-")
    work = args.work or Path(tmp.name)
    photos = build_set(args.faces, work, args.quick, args.seed, say)
    variants = Variants()
    detectors = make_detectors([n.strip() for n in args.detectors.split(",") if n.strip()], args.raw_blaze, say)
    pinned = "not pinned" if args.no_pin else pin_one_core()
    started = context(list(detectors))  # the fermask code measured is the one of the start
    records = measure(photos, detectors, variants, args.iou)
    summary = {name: summarize(records, name, variants) for name in detectors}
    info = {**started, "cpu": pinned, "iou": args.iou, "quick": args.quick,
            "photos": {g: sum(p.group == g for p in photos) for g in sorted({p.group for p in photos})},
            "faces_in_truth": sum(len(p.truth) for p in photos)}
    print(f"# Face detection on masked faces ({info['date']})\n")
    dirty = " (uncommitted changes)" if info["uncommitted_changes"] else ""
    print(f"fermask {info['fermask']} at {info['commit']}{dirty}; FaceAnalyzer accepts "
          f"{', '.join(info['detectors_accepted'])}; {pinned}; IoU >= {args.iou}.")
    print(f"Photos: {info['photos']}; {info['faces_in_truth']} ground-truth (HOG) faces.\n")
    print("## Recall (%) of the faces HOG finds unmasked\n\n" + recall_table(summary, variants) + "\n")
    print("## False boxes and speed\n\n" + speed_table(summary) + "\n")
    print("## Recall (%) by face width (faces)\n\n" + width_table(summary) + "\n")
    print("## Recall (%) by photo group\n\n" + group_table(summary) + "\n")
    if args.json:
        args.json.write_text(json.dumps({"context": info, "detectors": summary}, indent=1))
        say(f"wrote {args.json}")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
