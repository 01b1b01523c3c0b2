"""The table and plots of ``build_masked_model.py``'s cross-validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

WIN_MARGIN = 0.20  # masked agreement on masks fermask did not draw: at least this much above the teacher's
BARE_MIN = 0.95  # agreement with the teacher on bare faces: at least this


def verdict(cv: dict[str, Any]) -> dict[str, Any]:
    """Whether the adapted model wins: +20 points on masks fermask did not draw, and >= 95 % on bare faces."""
    gain = cv["adapted"]["agree:other"] - cv["teacher"]["agree:other"]
    bare = cv["adapted"]["agree:bare"]
    return {"gain_other": gain, "bare": bare, "wins": bool(gain >= WIN_MARGIN and bare >= BARE_MIN)}


def _pct(v: float) -> str:
    return "–" if v != v else f"{100 * v:.1f} %"


def _sets(cv: dict[str, Any]) -> list[str]:
    return [k.split(":", 1)[1] for k in cv["teacher"] if k.startswith("agree:") and ":" in k[6:]]


def markdown_table(cv: dict[str, Any]) -> str:
    """Agreement and accuracy of the teacher and the adapted model, by group and by mask set."""
    t, a = cv["teacher"], cv["adapted"]
    rows = [("bare faces", "bare"), ("fermask's styles (mean)", "fermask"), ("masks fermask did not draw (mean)", "other")]
    rows += [(f"  {name}", name) for name in _sets(cv)]
    lines = ["| faces | agreement, teacher | agreement, adapted | accuracy, teacher | accuracy, adapted |",
             "|---|---|---|---|---|"]
    for label, key in rows:
        lines.append(f"| {label} | {_pct(t['agree:' + key])} | {_pct(a['agree:' + key])} | "
                     f"{_pct(t['acc:' + key])} | {_pct(a['acc:' + key])} |")
    v = verdict(cv)
    lines.append("")
    lines.append(f"Agreement: with the teacher's answer on the same face bare. Accuracy: against the photographed "
                 f"expression (London faces). Gain on masks fermask did not draw: {100 * v['gain_other']:+.1f} points "
                 f"(needed: +{100 * WIN_MARGIN:.0f}); bare agreement {_pct(v['bare'])} (needed: {100 * BARE_MIN:.0f} %): "
                 f"{'wins' if v['wins'] else 'does not win'}.")
    base = cv.get("baseline")
    if base is not None:
        lines.append(f"Always answering the teacher's most common bare answer ({base['answer_name']}) agrees "
                     f"{_pct(base['agree'])} and is right on {_pct(base['acc'])} of the London faces.")
    minority = cv.get("minority")
    if minority is not None:
        lines.append(f"On the faces the teacher does not call {base['answer_name'] if base else 'its commonest'}: "
                     f"agreement bare {_pct(minority['teacher']['bare'])} (teacher) / {_pct(minority['adapted']['bare'])} "
                     f"(adapted); fermask's styles {_pct(minority['teacher']['fermask'])} / {_pct(minority['adapted']['fermask'])}; "
                     f"masks fermask did not draw {_pct(minority['teacher']['other'])} / {_pct(minority['adapted']['other'])}.")
    worse = [name for name in ["bare", *_sets(cv)] if a["acc:" + name] < t["acc:" + name]]
    if worse:
        lines.append(f"Accuracy below the teacher's on: {', '.join(worse)}.")
    return "\n".join(lines)


def _bars(ax: Any, names: list[str], teacher: list[float], adapted: list[float], title: str) -> None:
    import numpy as np

    x = np.arange(len(names))
    ax.bar(x - 0.2, [100 * v for v in teacher], 0.4, label="teacher (fer-mini-xception)", color="#999999")
    ax.bar(x + 0.2, [100 * v for v in adapted], 0.4, label="adapted", color="#1f77b4")
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_ylim(0, 100)
    ax.set_ylabel("%")
    ax.set_title(title)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.32), ncol=2, fontsize=8, frameon=False)  # below the names


def plot_all(cv: dict[str, Any], folder: Path) -> list[Path]:
    """``masked_model_agreement.png``, ``masked_model_accuracy.png`` and ``masked_model_bare.png`` in ``folder``."""
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    t, a = cv["teacher"], cv["adapted"]
    sets = _sets(cv)
    out = []
    for what, title, fname in (("agree", "agreement with the teacher's bare answer, masked faces", "agreement"),
                               ("acc", "accuracy against the photographed expression (London)", "accuracy")):
        fig, ax = plt.subplots(figsize=(8, 4.4))
        _bars(ax, sets, [t[f"{what}:{s}"] for s in sets], [a[f"{what}:{s}"] for s in sets], title)
        fig.tight_layout()
        out.append(folder / f"masked_model_{fname}.png")
        fig.savefig(out[-1], dpi=90)
        plt.close(fig)
    folds = cv["per_fold"]
    fig, ax = plt.subplots(figsize=(7, 4.3))
    names = [f"fold {i + 1}" for i in range(len(folds))] + ["all"]
    series = [("adapted: agreement with the teacher", "#1f77b4", [f["adapted"]["agree:bare"] for f in folds] + [a["agree:bare"]]),
              ("teacher: accuracy (London)", "#999999", [f["teacher"]["acc:bare"] for f in folds] + [t["acc:bare"]]),
              ("adapted: accuracy (London)", "#aec7e8", [f["adapted"]["acc:bare"] for f in folds] + [a["acc:bare"]])]
    x = np.arange(len(names))
    for j, (label, color, values) in enumerate(series):
        ax.bar(x + (j - 1) * 0.27, [100 * v for v in values], 0.27, label=label, color=color)
    ax.set_xticks(x, names)
    ax.set_ylim(0, 100)
    ax.set_ylabel("%")
    ax.set_title("bare faces, by measured fold")
    ax.axhline(100 * BARE_MIN, color="red", lw=0.8, ls="--", label=f"target: agreement >= {100 * BARE_MIN:.0f} %")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, fontsize=8, frameon=False)  # below the bars
    fig.tight_layout()
    out.append(folder / "masked_model_bare.png")
    fig.savefig(out[-1], dpi=90)
    plt.close(fig)
    return out
