"""Training and measuring one student for ``build_masked_model.py``.

A student is a trainable copy of the teacher (``fermask.models.trainable_copy``)
trained with fermask's distillation loss (``fermask.training.distill.make_distiller``,
soft part only: ``T² · KL(soft(teacher) ‖ soft(student))``) on views drawn by
``masked_model_data.training_views``: in each epoch every training face shows
``views_per_epoch`` new views, each masked or, with probability
``unmasked_share``, bare.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Setting:
    """What one training run tries.

    Attributes:
        unmasked_share: Share of views shown bare.
        temperature: Distillation temperature.
        layers: ``"all"`` (every layer trains), ``"frozen-bn"`` (batch-norm
            statistics and scales stay the teacher's) or ``"head"`` (only the
            layers after the first half of the convolutions train).
        learning_rate: Adam's learning rate.
        epochs: Passes over the training faces.
        views_per_epoch: Views of each face in one epoch.
        balance: Show the faces of the teacher's rarer top answers more often
            in each epoch (each in more views: the commonest answer's count
            over its answer's, rounded, at most 4).
    """

    unmasked_share: float = 0.5
    temperature: float = 2.0
    layers: str = "all"
    learning_rate: float = 1e-3
    epochs: int = 12
    views_per_epoch: int = 2
    balance: bool = False

    def name(self) -> str:
        """A short name for tables."""
        return (f"u{self.unmasked_share:g}-T{self.temperature:g}-{self.layers}-lr{self.learning_rate:g}"
                f"-e{self.epochs}x{self.views_per_epoch}" + ("-balanced" if self.balance else ""))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def _set_trainable(student: Any, keras: Any, layers: str) -> None:
    if layers == "all":
        return
    if layers == "frozen-bn":
        for layer in student.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
        return
    convs = [i for i, layer in enumerate(student.layers) if "conv" in type(layer).__name__.lower()]
    cut = convs[len(convs) // 2]
    for layer in student.layers[:cut]:
        layer.trainable = False


def train_student(teacher: Any, views: dict[str, np.ndarray], targets: np.ndarray, rows: np.ndarray,
                  setting: Setting, seed: int, progress: bool = True) -> Any:
    """A student trained on the views of faces ``rows``, the teacher's bare answers ``targets[rows]`` as targets.

    The same teacher, views, rows, setting and seed give the same weights
    (Keras' seed is set and TensorFlow's ops are deterministic).
    """
    from tqdm.auto import tqdm

    import fermask
    from fermask._tf import keras_module, tf_module
    from fermask.models import trainable_copy
    from fermask.training.distill import make_distiller

    keras, tf = keras_module(), tf_module()
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    student = trainable_copy(teacher)
    _set_trainable(student, keras, setting.layers)
    cfg = fermask.AdaptConfig(temperature=setting.temperature).train_config("student")
    model = make_distiller(keras, student, "softmax", cfg)
    model.compile(optimizer=keras.optimizers.Adam(setting.learning_rate))
    total = views["masked"].shape[1]
    k = targets.shape[1]
    hard = np.eye(k, dtype=np.float32)[targets.argmax(axis=1)]
    repeats = _repeats(targets.argmax(axis=1), rows) if setting.balance else np.ones(len(targets), np.int64)
    for epoch in tqdm(range(setting.epochs), desc="epochs", unit="epoch", disable=not progress, leave=False):
        xs, ts = [], []
        for j in range(setting.views_per_epoch):
            v = (epoch * setting.views_per_epoch + j) % total
            for r in range(int(repeats[rows].max())):
                some = rows[repeats[rows] > r]
                vr = (v + 7 * r) % total  # a repeat shows other views than the first
                bare = np.random.default_rng([seed, 7, vr]).random(len(targets))[some] < setting.unmasked_share
                xs.append(np.where(bare[:, None, None], views["bare"][some, vr], views["masked"][some, vr]))
                ts.append(some)
        x = np.concatenate(xs)
        t = np.concatenate(ts)
        order = np.random.default_rng([seed, 11, epoch]).permutation(len(x))
        x = x[order].astype(np.float32)[..., None]
        t = t[order]
        model.fit(x, {"label": hard[t], "teacher": targets[t]}, batch_size=32, epochs=1, shuffle=False, verbose=0)
    return student


def _repeats(answers: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Per face: how many views of it an epoch shows (1 for the teacher's commonest answer among ``rows``, at most 4)."""
    counts = np.bincount(answers[rows], minlength=int(answers.max()) + 1).astype(np.float64)
    reps = np.ones(len(answers), np.int64)
    reps[rows] = np.clip(np.round(counts.max() / counts[answers[rows]]), 1, 4).astype(np.int64)
    return reps


def predict(model: Any, images: np.ndarray) -> np.ndarray:
    """Class probabilities of gray ``(N, H, W)`` ``uint8`` faces."""
    x = images.astype(np.float32)[..., None]
    return np.asarray(model.predict(x, batch_size=128, verbose=0))


def answers(model: Any, sets: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    """The model's top class on faces ``rows`` of every measured set."""
    return {name: predict(model, images[rows]).argmax(axis=1) for name, images in sets.items()}


def summarise(pred: dict[str, np.ndarray], bare_answer: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Agreement with ``bare_answer`` and accuracy against ``truth`` (-1: unknown) of every set, and group means.

    Keys: ``agree:<set>``, ``acc:<set>``, and the groups ``agree:fermask``,
    ``agree:other``, ``acc:fermask``, ``acc:other`` (means over the sets of
    the group, every face counted once per set).
    """
    out: dict[str, float] = {}
    known = truth >= 0
    for name, p in pred.items():
        out[f"agree:{name}"] = float((p == bare_answer).mean()) if len(p) else float("nan")
        out[f"acc:{name}"] = float((p[known] == truth[known]).mean()) if known.any() else float("nan")
    for group in ("fermask", "other"):
        for what in ("agree", "acc"):
            vals = [out[f"{what}:{n}"] for n in pred if n.startswith(group + ":")]
            out[f"{what}:{group}"] = float(np.mean(vals)) if vals else float("nan")
    return out


def baseline(bare_answer: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    """A model that always gives the teacher's most common bare answer: its agreement and its accuracy."""
    top = int(np.bincount(bare_answer).argmax())
    known = truth >= 0
    return {"answer": top, "agree": float((bare_answer == top).mean()),
            "acc": float((truth[known] == top).mean()) if known.any() else float("nan")}


def answer_counts(pred: dict[str, np.ndarray], labels: list[str]) -> dict[str, dict[str, int]]:
    """How often each label is the answer, per set."""
    return {name: {labels[k]: int(n) for k, n in enumerate(np.bincount(p, minlength=len(labels))) if n}
            for name, p in pred.items()}


def minority_agreement(pred: dict[str, np.ndarray], bare_answer: np.ndarray) -> dict[str, float]:
    """Agreement on the faces whose teacher answer is not its most common one, per set and group."""
    rare = bare_answer != np.bincount(bare_answer).argmax()
    out = {name: float((p[rare] == bare_answer[rare]).mean()) if rare.any() else float("nan") for name, p in pred.items()}
    for group in ("fermask", "other"):
        vals = [v for n, v in out.items() if n.startswith(group + ":")]
        out[group] = float(np.mean(vals)) if vals else float("nan")
    return out


def objective(scores: dict[str, float]) -> float:
    """What setting choice maximises: masked agreement (both groups), less a penalty below 96 % bare agreement."""
    return 0.5 * (scores["agree:fermask"] + scores["agree:other"]) - 2.0 * max(0.0, 0.96 - scores["agree:bare"])
