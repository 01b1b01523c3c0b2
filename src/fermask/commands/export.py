"""``fermask export``: turn a Keras bundle (or a pretrained name) into a TFLite bundle, a SavedModel or ONNX.

Examples::

    fermask export fer-mini-xception -o bundles/fer-lite
    fermask export runs/mine/bundle -o bundles/mine-int8 --quantize int8 --calibration data/fer2013.csv
    fermask export runs/mine/bundle -o exports/mine-savedmodel --format savedmodel

Exporting needs TensorFlow (``fermask[cpu]``); a TFLite bundle runs on LiteRT
without it (``fermask[lite]``): ``fermask predict PHOTO --model OUT``.
"""

from __future__ import annotations

import argparse

from fermask._choices import EXPORT_FORMATS, QUANTIZATIONS

from ._common import int_option

__all__ = ["add_arguments", "run"]

def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``fermask export``."""
    parser.add_argument("bundle", metavar="BUNDLE",
                        help="a Keras bundle folder, or a downloaded pretrained model's name (fer-mini-xception)")
    parser.add_argument("--output", "-o", required=True, metavar="OUT", help="the folder to write")
    parser.add_argument("--format", "-f", choices=EXPORT_FORMATS, default="tflite",
                        help="tflite (a bundle that runs without TensorFlow), savedmodel, or onnx "
                             "(needs pip install tf2onnx onnx) (default: tflite)")
    parser.add_argument("--quantize", "-q", choices=QUANTIZATIONS, default="none",
                        help="TFLite only: none (float32), float16 (half the size), dynamic (int8 weights), "
                             "int8 (full integer; needs --calibration) (default: none)")
    parser.add_argument("--calibration", metavar="DATA",
                        help="faces like those the model will see (a folder of face crops or photos, a FER2013 "
                             "CSV or a saved dataset): they set the int8 ranges, and every export is compared "
                             "with the Keras model on them")
    parser.add_argument("--max-faces", type=int_option(), default=300, metavar="N",
                        help="calibration faces used at most, a seeded random subset (default: 300)")
    parser.add_argument("--force", action="store_true",
                        help="replace OUT when it holds an earlier export (never a folder with other files)")


def run(args: argparse.Namespace) -> int:
    """Run ``fermask export``."""
    from fermask._tf import require_tensorflow
    from fermask.errors import InvalidValueError
    from fermask.export import export_model

    if args.quantize != "none" and args.format != "tflite":
        raise InvalidValueError(f"--quantize {args.quantize} applies to --format tflite only, got --format {args.format}")
    if args.quantize == "int8" and not args.calibration:
        raise InvalidValueError(
            "--quantize int8 needs --calibration DATA: faces like those the model will see (a folder of face "
            "crops or photos, a FER2013 CSV or a saved dataset); or use --quantize dynamic, which needs none"
        )
    require_tensorflow("fermask export")
    out = export_model(args.bundle, args.output, format=args.format, quantize=args.quantize,
                       calibration=args.calibration, max_faces=args.max_faces, overwrite=args.force,
                       progress=True)
    print(_summary(out, args.format))
    return 0


def _summary(out: object, fmt: str) -> str:
    """One line: what was written, and how it compares with the Keras model."""
    import json
    from pathlib import Path

    folder = Path(str(out))
    record = json.loads((folder / "fermask.json").read_text(encoding="utf-8")).get("extra", {}).get("export", {})
    check = record.get("check") or {}
    line = f"wrote {folder} ({fmt}"
    if fmt == "tflite":
        line += f", quantize={record.get('quantize', 'none')}, {record.get('bytes', 0) / 1024:.0f} KB"
    line += ")"
    if check:
        line += (f"; against the Keras model on {check['inputs']} {check['on'].split(' (')[0]}: "
                 f"same top class {check['argmax_agreement']:.1%}, largest difference {check['max_abs_diff']:.2g}")
    if fmt == "tflite":
        line += f". Run it: fermask predict PHOTO --model {folder}"
    return line
