"""Mask FER2013, train a model on it and evaluate it per class and per mask style.

Usage:
    python examples/train_on_fer2013.py --data fer2013.csv [--model shallow_cnn] [--epochs 30]
    python examples/train_on_fer2013.py --synthetic 1500 --epochs 2      # no FER2013 at hand

FER2013 is not downloadable here: get ``fer2013.csv`` (or ``icml_face_data.csv``,
or the train/test folder layout) from Kaggle. ``--synthetic N`` runs the same
pipeline on N *synthetic* faces; its accuracy says nothing about emotions.
"""

from __future__ import annotations

import argparse

from fermask import FERDataset, Masker, TrainConfig, train
from fermask.data import make_synthetic_fer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="fer2013.csv, icml_face_data.csv or the folder layout")
    src.add_argument("--synthetic", type=int, help="use N synthetic faces instead (not FER2013)")
    parser.add_argument("--model", default="shallow_cnn")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", default="runs/example")
    parser.add_argument("--styles", default="surgical,n95,cloth", help="mask styles used in training")
    args = parser.parse_args()

    if args.data:
        ds = FERDataset.from_csv(args.data) if args.data.endswith((".csv", ".csv.gz")) else FERDataset.from_folder(args.data)
        train_ds = ds.split(by="usage")["Training"]
    else:
        train_ds = make_synthetic_fer(args.synthetic, seed=0, balanced=True)
    print(train_ds.summary())

    # Mask once (cached on disk: a rerun takes seconds), one random style per face.
    masked = train_ds.mask(Masker(args.styles.split(","), seed=0), on_no_face="drop", workers=2)
    config = TrainConfig(model=args.model, epochs=args.epochs, batch_size=64, augment=True,
                         class_weights="balanced", early_stopping=8, seed=0)
    result = train(masked, config, validation=0.1, out_dir=args.out, overwrite=True)
    print(result)
    if result.evaluation is not None:
        print(result.evaluation.to_markdown(title="Validation"))
    written = sorted(p.name + ("/" if p.is_dir() else "") for p in result.out_dir.iterdir())
    print(f"wrote {result.out_dir}/: {', '.join(written)}")   # bundle/, curves.png, evaluation_confusion.png, ...
    print(f"bundle for fermask.Predictor: {result.bundle_path}")


if __name__ == "__main__":
    main()
