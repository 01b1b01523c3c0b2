"""Distillation: a teacher that sees unmasked faces trains a student that sees masked ones.

Usage:
    python examples/distil_a_masked_student.py --data fer2013.csv [--epochs 30]
    python examples/distil_a_masked_student.py --synthetic 1200 --epochs 2     # no FER2013 at hand

The published idea (Hdioud & Tirari 2023 lifted a masked FER2013 student from
46% to 61%): train a teacher on full faces, then train the student on the
masked copies of the same faces against the teacher's soft labels as well as
the true ones. ``--synthetic`` runs the pipeline on synthetic faces (not
FER2013): its figures say nothing about emotions.
"""

from __future__ import annotations

import argparse

from fermask import FERDataset, Masker, TrainConfig, train
from fermask.data import make_synthetic_fer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--data")
    src.add_argument("--synthetic", type=int)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", default="runs/distil")
    args = parser.parse_args()

    if args.data:
        full = FERDataset.from_csv(args.data).split(by="usage")["Training"]
    else:
        full = make_synthetic_fer(args.synthetic, seed=0, balanced=True)
    # keep every row (no-face rows stay unmasked) so teacher and student rows align
    masked = full.mask(Masker(["surgical", "n95", "cloth"], seed=0), on_no_face="keep", workers=2)

    cfg = TrainConfig(model="shallow_cnn", epochs=args.epochs, seed=0)
    teacher = train(full, cfg, validation=0.1, out_dir=f"{args.out}/teacher", overwrite=True)
    plain = train(masked, cfg, validation=0.1, out_dir=f"{args.out}/student_plain", overwrite=True)
    distilled = train(masked, cfg, validation=0.1, teacher=teacher.bundle_path, teacher_data=full,
                      out_dir=f"{args.out}/student_distilled", overwrite=True)
    for name, run in (("teacher (unmasked)", teacher), ("student, plain", plain), ("student, distilled", distilled)):
        print(f"{name:>20}: validation accuracy {run.metrics.get('val_accuracy', float('nan')):.3f}")


if __name__ == "__main__":
    main()
