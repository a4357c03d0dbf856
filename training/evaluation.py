"""Scoring a tagger on the held-out split exactly as the worker tags (DESIGN §7): the model is
loaded through worker.ai.tagger.load_tagger_card and its labels come from the card's label_map
and thresholds, so the 1000-class default and a fine-tuned head are measured the same way.

Per-label precision and recall are over the labels *given* (a photo may get several, `other`
when none passes); the main label of a picture is the best-scoring label given; macro-F1 over
the dataset's labels is the promotion metric (training.export.promote)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training.dataset import TEST, Dataset, image_open
from vault import modelcards


@dataclass
class Evaluation:
    model_id: str
    labels: list[str]  # the dataset's labels: rows/columns of the confusion matrix, in order
    per_label: dict[str, dict]  # {label: {"precision", "recall", "f1", "support"}}
    macro_f1: float
    main_label_accuracy: float
    confusion: list[list[int]]  # [true][main label], over `labels` (+ a column for others)
    columns: list[str]  # confusion-matrix columns: labels, then labels the dataset lacks
    images: int
    test_fingerprint: str
    scores: list[dict] = field(default_factory=list, repr=False)  # per image {label: score}
    truths: list[list[str]] = field(default_factory=list, repr=False)

    def as_metrics(self, set_name: str) -> dict:
        """The card's `metrics` object."""
        return {
            "set": set_name,
            "size": self.images,
            "test_fingerprint": self.test_fingerprint,
            "per_label": self.per_label,
            "macro_f1": self.macro_f1,
            "main_label_accuracy": self.main_label_accuracy,
            "promotion_metric": "macro_f1",
        }

    def as_dict(self) -> dict:
        return {
            "model_id": self.model_id,
            "labels": self.labels,
            "per_label": self.per_label,
            "macro_f1": self.macro_f1,
            "main_label_accuracy": self.main_label_accuracy,
            "confusion": self.confusion,
            "columns": self.columns,
            "images": self.images,
            "test_fingerprint": self.test_fingerprint,
        }


def _pictures(dataset: Dataset, split: str) -> tuple[list[Path], list[list[str]]]:
    """One entry per picture (a photo filed under two labels counts once, with both)."""
    by_key: dict[str, tuple[Path, list[str]]] = {}
    for example in dataset.split(split):
        by_key.setdefault(example.key, (example.path, []))[1].append(example.label)
    return [path for path, _ in by_key.values()], [labels for _, labels in by_key.values()]


def _given(scores: dict[str, float], card: modelcards.ModelCard) -> list[str]:
    from worker.ai.tagger import labels_given

    return [item.label for item in labels_given(scores, card)]


def metrics_compute(
    scores: list[dict[str, float]],
    truths: list[list[str]],
    card: modelcards.ModelCard,
    labels: list[str],
) -> dict:
    """Per-label precision/recall/F1/support, macro-F1 over `labels`, main-label accuracy and
    the confusion matrix, from per-picture label scores (as worker.ai.tagger.label_scores gives
    them) under the card's thresholds. Pure: the threshold tuner calls it with changed cards."""
    given = [_given(row, card) for row in scores]
    per_label = {}
    for label in labels:
        truth = np.array([label in t for t in truths])
        predicted = np.array([label in g for g in given])
        tp = int((truth & predicted).sum())
        precision = tp / predicted.sum() if predicted.sum() else 0.0
        recall = tp / truth.sum() if truth.sum() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label[label] = {
            "precision": round(float(precision), 4),
            "recall": round(float(recall), 4),
            "f1": round(float(f1), 4),
            "support": int(truth.sum()),
        }
    main = [g[0] for g in given]
    columns = labels + sorted({m for m in main if m not in labels}, key=modelcards.LABELS.index)
    confusion = [[0] * len(columns) for _ in labels]
    for guess, truth in zip(main, truths, strict=True):
        # A picture with several labels is counted on the row of the label it was given, if
        # any, so that a right answer lands on the diagonal.
        row = guess if guess in truth else truth[0]
        confusion[labels.index(row)][columns.index(guess)] += 1
    scored = [label for label in labels if per_label[label]["support"]]
    return {
        "per_label": per_label,
        "macro_f1": round(float(np.mean([per_label[lb]["f1"] for lb in scored])), 4)
        if scored
        else 0.0,
        "main_label_accuracy": round(
            sum(m in t for m, t in zip(main, truths, strict=True)) / max(1, len(truths)), 4
        ),
        "confusion": confusion,
        "columns": columns,
    }


def evaluate(
    card: modelcards.ModelCard,
    dataset: Dataset,
    *,
    split: str = TEST,
    batch_size: int = 16,
    threads: int | None = None,
) -> Evaluation:
    """Tag every picture of `split` with the card's model, loaded by the worker's loader
    (sha256 checked; worker.ai.loader.ModelUnavailable when it cannot be used), and score the
    labels given against the label folders."""
    from worker.ai.tagger import label_scores, load_tagger_card

    tagger = load_tagger_card(card, threads=threads or os.cpu_count() or 1)
    paths, truths = _pictures(dataset, split)
    scores: list[dict[str, float]] = []
    for start in range(0, len(paths), batch_size):
        pictures = [image_open(path) for path in paths[start : start + batch_size]]
        for row in tagger.probabilities(pictures):
            scores.append(label_scores(row, card))
    computed = metrics_compute(scores, truths, card, dataset.labels)
    return Evaluation(
        model_id=card.model_id,
        labels=list(dataset.labels),
        images=len(paths),
        test_fingerprint=dataset.fingerprint(split),
        scores=scores,
        truths=truths,
        **computed,
    )


THRESHOLD_GRID = tuple(round(0.05 * step, 2) for step in range(2, 19))  # 0.10 .. 0.90


def thresholds_tune(
    evaluation: Evaluation, card: modelcards.ModelCard, grid=THRESHOLD_GRID
) -> dict[str, float]:
    """Per-label thresholds that maximise that label's F1 on the evaluated pictures (keeping the
    card's threshold on ties). Tuned on the held-out set, so the metrics measured with them are
    optimistic: say so when a card carries tuned thresholds."""
    thresholds = dict(card.get("thresholds"))
    for label in thresholds:
        if label not in evaluation.labels:
            continue
        best = (metrics_for(evaluation, card, thresholds)["per_label"][label]["f1"], None)
        for value in grid:
            trial = thresholds | {label: round(float(value), 2)}
            f1 = metrics_for(evaluation, card, trial)["per_label"][label]["f1"]
            if f1 > best[0]:
                best = (f1, trial[label])
        if best[1] is not None:
            thresholds[label] = best[1]
    return thresholds


def metrics_for(evaluation: Evaluation, card: modelcards.ModelCard, thresholds: dict) -> dict:
    """metrics_compute on an evaluation's stored scores with other thresholds."""
    changed = modelcards.ModelCard(path=card.path, data=card.data | {"thresholds": thresholds})
    return metrics_compute(evaluation.scores, evaluation.truths, changed, evaluation.labels)


def confusion_plot(evaluation: Evaluation | dict, path: Path, title: str | None = None) -> Path:
    """Save the confusion matrix (rows: true label, columns: main label given) as an image
    (format from the suffix, e.g. .png); returns path. Uses matplotlib's Agg backend, so it
    works headless."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    data = evaluation if isinstance(evaluation, dict) else evaluation.as_dict()
    matrix = np.array(data["confusion"])
    figure, axes = plt.subplots(figsize=(1.2 * len(data["columns"]) + 2, len(data["labels"]) + 1))
    axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(data["columns"])), data["columns"], rotation=45, ha="right")
    axes.set_yticks(range(len(data["labels"])), data["labels"])
    axes.set_xlabel("main label given")
    axes.set_ylabel("true label")
    for (row, column), count in np.ndenumerate(matrix):
        axes.text(column, row, str(count), ha="center", va="center")
    axes.set_title(title or data["model_id"], fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return Path(path)
