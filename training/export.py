"""Writing a trained tagger into a models directory with its card, and promoting it (DESIGN §7):
the model file is written under a temporary name and renamed, the card through
vault.modelcards.card_write; a candidate becomes active only when it beats the active model on
the same held-out set (macro-F1), or when forced, which its card records."""

from __future__ import annotations

import datetime
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from vault import modelcards

REPO = Path(__file__).resolve().parents[1]
REPO_MODELS_DIR = REPO / "models"  # what the worker loads by default (VAULT_MODELS_DIR)
DEFAULT_THRESHOLD = 0.5
PROMOTION_METRIC = "macro_f1"


class ExportError(Exception):
    """An export or promotion that must not happen; str(error) says why."""


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip()


def card_data(
    *,
    name: str,
    file: str,
    sha256: str,
    labels: list[str],
    input_spec: dict,
    source: str,
    licence: str,
    made_by: str,
    metrics: dict | None = None,
    thresholds: dict[str, float] | None = None,
    smoke: bool = False,
) -> dict:
    """The card of a softmax head over `labels` (docs/model-cards.md), inactive: outputs are the
    label names, label_map the identity (`other` is unmapped: it is what no label passing
    means), thresholds DEFAULT_THRESHOLD unless given."""
    mapped = [label for label in labels if label != "other"]
    data = {
        "name": name,
        "task": "tagger",
        "file": file,
        "sha256": sha256,
        "format": "keras",
        "source": source,
        "licence": licence,
        "labels": list(labels),
        "input": input_spec,
        "outputs": list(labels),
        "output_activation": "softmax",
        "label_map": {label: [labels.index(label)] for label in mapped},
        "thresholds": {label: DEFAULT_THRESHOLD for label in mapped} | (thresholds or {}),
        "made_by": made_by,
        "metrics": metrics or {},
        "date": datetime.date.today().isoformat(),
        "active": False,
    }
    if smoke:
        # Trained, but on generated shapes: loadable (CI tags a photo with it), never promoted.
        data["smoke"] = True
    return data


def model_save(model, directory: Path, stem: str) -> tuple[str, str]:
    """Save a Keras model as `<stem>.keras` in directory atomically: to a temporary name in the
    same directory, flushed, then renamed over. Returns (file name, sha256). The optimizer
    state is left out (the worker only infers; it would double a VGG16 file)."""
    import keras

    if getattr(model, "optimizer", None) is not None:
        model = keras.Model(model.inputs, model.outputs, name=model.name)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"{stem}.keras"
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=".keras", dir=directory)
    os.close(fd)
    try:
        model.save(tmp)  # a fresh, uncompiled wrapper: no optimizer in the file
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        sha256 = modelcards.file_sha256(Path(tmp))
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return final.name, sha256


def _stem(name: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,60}", name):
        raise ExportError(f"model name {name!r}: lower-case letters, digits, . _ - only")
    return f"tagger-{name}" if not name.startswith("tagger-") else name


def export_tagger(
    trained,
    directory: Path,
    *,
    name: str,
    made_by: str,
    metrics: dict | None = None,
    thresholds: dict[str, float] | None = None,
) -> modelcards.ModelCard:
    """Write a training.finetune.Trained model and its (inactive) card into `directory`
    (`tagger-<name>.keras` + `.json`); returns the card. A smoke model is refused in the
    repository's models/ (ExportError): smoke runs export to a temporary directory."""
    directory = Path(directory)
    if trained.smoke and directory.resolve() == REPO_MODELS_DIR.resolve():
        raise ExportError("a smoke model never goes into models/; export it to a temp dir")
    stem = _stem(name)
    card_path = directory / f"{stem}.json"
    if card_path.exists() and modelcards.card_read(card_path).active:
        raise ExportError(f"{card_path.name} is the active model; export under another name")
    file, sha256 = model_save(trained.model, directory, stem)
    data = card_data(
        name=name,
        file=file,
        sha256=sha256,
        labels=trained.labels,
        input_spec=trained.input_spec,
        source=trained.source,
        licence=trained.licence,
        made_by=f"{made_by} (commit {_commit()}, base {trained.base})",
        metrics=metrics,
        thresholds=thresholds,
        smoke=trained.smoke,
    )
    return modelcards.card_write(card_path, data)


def card_update(card: modelcards.ModelCard, **changes) -> modelcards.ModelCard:
    """Rewrite a card with some fields changed (atomically, checked)."""
    return modelcards.card_write(card.path, card.data | changes)


def _active_tagger(directory: Path) -> modelcards.ModelCard | None:
    """The active tagger card of directory, None when there is none. ExportError when there
    are several or the active one fails its sha256: an operator must look first."""
    cards = []
    for path in sorted(Path(directory).glob("*.json")):
        try:
            card = modelcards.card_read(path)
        except modelcards.CardError:
            continue
        if card.task == "tagger" and card.active:
            cards.append(card)
    if not cards:
        return None
    try:
        return modelcards.active_card(Path(directory), "tagger")
    except modelcards.CardError as error:
        raise ExportError(str(error)) from None


@dataclass(frozen=True)
class Promotion:
    promoted: bool
    reason: str
    candidate: float | None  # the candidate's macro-F1
    active: float | None  # the active model's, on the same pictures


def promote(
    candidate: modelcards.ModelCard,
    *,
    candidate_metrics: dict,
    active_metrics: dict | None,
    force: bool = False,
) -> Promotion:
    """Make `candidate` the active tagger of its directory when its macro-F1 beats the active
    model's on the same held-out pictures (equal test fingerprints), or when `force` (recorded
    in the card as "forced": true). The old card is flipped inactive before the new one
    becomes active, so a crash in between leaves no active model (the tagger then says so)
    rather than two. Smoke models and unverifiable candidates raise ExportError."""
    if candidate.get("smoke"):
        raise ExportError("a smoke model is never promoted")
    if candidate.task != "tagger":
        raise ExportError(f"{candidate.path.name} is not a tagger")
    try:
        modelcards.card_verify(candidate, fresh=True)
    except modelcards.CardError as error:
        raise ExportError(str(error)) from None
    current = _active_tagger(candidate.path.parent)
    if current is not None and current.path == candidate.path:
        return Promotion(False, "already active", None, None)
    ours = candidate_metrics.get(PROMOTION_METRIC)
    theirs = (active_metrics or {}).get(PROMOTION_METRIC)
    if current is not None and active_metrics is not None:
        fingerprints = (
            candidate_metrics.get("test_fingerprint"),
            active_metrics.get("test_fingerprint"),
        )
        if None in fingerprints or fingerprints[0] != fingerprints[1]:
            raise ExportError("the two models were not evaluated on the same held-out pictures")
    if current is None:
        better, reason = True, "no active tagger"
    elif theirs is None:
        raise ExportError(f"evaluate the active model {current.model_id} first")
    elif ours is not None and ours > theirs:
        better, reason = True, f"{PROMOTION_METRIC} {ours:.4f} > {theirs:.4f}"
    else:
        better, reason = False, f"{PROMOTION_METRIC} {ours} does not beat {theirs:.4f}"
    if not better and not force:
        return Promotion(False, reason, ours, theirs)
    forced = not better
    data = {key: value for key, value in candidate.data.items() if key != "forced"}
    data |= {"active": False} | ({"forced": True} if forced else {})
    candidate = modelcards.card_write(candidate.path, data)  # written first, inactive
    if current is not None:
        card_update(current, active=False)
    card_update(candidate, active=True)
    return Promotion(True, ("forced: " if forced else "") + reason, ours, theirs)


# The notebooks hand the candidate on through their working directory: 02 writes it (model and
# inactive card) into <work>/candidate/, 03 evaluates it, 04 installs it into a models directory.
CANDIDATE_DIR = "candidate"


def candidate_write(trained, work_dir: Path, *, name: str, made_by: str) -> modelcards.ModelCard:
    """Replace <work_dir>/candidate/ with this model and its inactive card; returns the card."""
    directory = Path(work_dir) / CANDIDATE_DIR
    if directory.exists():
        shutil.rmtree(directory)
    return export_tagger(trained, directory, name=name, made_by=made_by)


def candidate_read(work_dir: Path) -> modelcards.ModelCard:
    """The candidate card in <work_dir>/candidate/, verified. ExportError when there is not
    exactly one or its file does not match."""
    cards = sorted((Path(work_dir) / CANDIDATE_DIR).glob("*.json"))
    if len(cards) != 1:
        raise ExportError(f"expected one candidate card in {work_dir}/{CANDIDATE_DIR}/")
    try:
        card = modelcards.card_read(cards[0])
        modelcards.card_verify(card, fresh=True)
    except modelcards.CardError as error:
        raise ExportError(str(error)) from None
    return card


def candidate_install(
    candidate: modelcards.ModelCard,
    models_dir: Path,
    *,
    metrics: dict,
    thresholds: dict[str, float] | None = None,
) -> modelcards.ModelCard:
    """Copy a verified candidate into models_dir as an inactive card with its metrics (and
    thresholds, when tuned): the file under a temporary name, re-hashed, then renamed; then the
    card. ExportError for a smoke model aimed at the repository's models/, for a file that
    changed on the way, or for a name that is the active model's."""
    models_dir = Path(models_dir)
    if candidate.get("smoke") and models_dir.resolve() == REPO_MODELS_DIR.resolve():
        raise ExportError("a smoke model never goes into models/; export it to a temp dir")
    card_path = models_dir / candidate.path.name
    if card_path.exists() and modelcards.card_read(card_path).active:
        raise ExportError(f"{card_path.name} is the active model; export under another name")
    models_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{candidate.file.name}.", dir=models_dir)
    try:
        with os.fdopen(fd, "wb") as out, candidate.file.open("rb") as source:
            shutil.copyfileobj(source, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        if modelcards.file_sha256(Path(tmp)) != candidate.sha256:
            raise ExportError(f"{candidate.file.name} changed while it was copied")
        os.replace(tmp, models_dir / candidate.file.name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    data = candidate.data | {"metrics": metrics, "active": False}
    if thresholds:
        data["thresholds"] = data["thresholds"] | thresholds
    return modelcards.card_write(card_path, data)


def smoke_models_dir(work_dir: Path) -> Path:
    """<work_dir>/models for a smoke run, holding a copy of the repository's active tagger when
    there is a usable one (so the smoke run also scores a real model), else empty."""
    directory = Path(work_dir) / "models"
    directory.mkdir(parents=True, exist_ok=True)
    try:
        active = modelcards.active_card(REPO_MODELS_DIR, "tagger")
    except modelcards.CardError:
        return directory
    shutil.copy2(active.file, directory / active.file.name)
    shutil.copy2(active.path, directory / active.path.name)
    return directory
