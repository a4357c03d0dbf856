"""Model cards: read and verify the JSON card beside each model file in `models/` (format in
docs/model-cards.md). Pure Python, no Django and no ML imports: /healthz, the system check,
`manage.py models`, the worker's loader and the training notebooks all use this one module."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

TASKS = ("tagger", "face_detector", "face_embedder")
LABELS = ("human", "landscape", "animal", "vehicle", "fruit", "other")
FORMATS = ("keras", "tflite", "dlib")
ACTIVATIONS = ("softmax-logits", "softmax", "sigmoid")
REQUIRED = ("name", "task", "file", "sha256", "format", "source", "licence", "date")


class CardError(Exception):
    """A card that cannot be used; str(error) says why, for the operator."""


@dataclass(frozen=True)
class ModelCard:
    path: Path  # the card's own path
    data: dict = field(repr=False)

    @property
    def name(self) -> str:
        return self.data["name"]

    @property
    def task(self) -> str:
        return self.data["task"]

    @property
    def file(self) -> Path:
        return self.path.parent / self.data["file"]

    @property
    def sha256(self) -> str:
        return self.data["sha256"]

    @property
    def active(self) -> bool:
        return self.data.get("active") is True

    @property
    def model_id(self) -> str:
        """`name@sha256[:12]`: what each tag records as the model that made it."""
        return f"{self.name}@{self.sha256[:12]}"

    def get(self, key: str, default=None):
        return self.data.get(key, default)

    def companion(self, role: str) -> Path:
        """The path of a further file the model needs (`companions[role]`, e.g. the face
        embedder's landmark predictor), verified with the card like its main file."""
        return self.path.parent / self.data["companions"][role]["file"]


def _check(data: dict, path: Path) -> None:
    missing = [key for key in REQUIRED if not isinstance(data.get(key), str) or not data[key]]
    if missing:
        raise CardError(f"{path.name}: missing {', '.join(missing)}")
    if data["task"] not in TASKS:
        raise CardError(f"{path.name}: unknown task {data['task']!r}")
    if data["format"] not in FORMATS:
        raise CardError(f"{path.name}: unknown format {data['format']!r}")
    if Path(data["file"]).name != data["file"]:
        raise CardError(f"{path.name}: file must be a name inside models/, not a path")
    sha = data["sha256"]
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise CardError(f"{path.name}: sha256 must be 64 lower-case hex digits")
    if "active" in data and not isinstance(data["active"], bool):
        raise CardError(f"{path.name}: active must be true or false")
    if data["task"] == "tagger":
        _check_tagger(data, path)
    companions = data.get("companions", {})
    if not isinstance(companions, dict):
        raise CardError(f"{path.name}: companions must be an object {{role: {{file, sha256}}}}")
    for role, spec in companions.items():
        if not isinstance(spec, dict):
            raise CardError(f"{path.name}: companion {role!r} must be {{file, sha256}}")
        name, sha = spec.get("file"), spec.get("sha256")
        if not isinstance(name, str) or not name or Path(name).name != name:
            raise CardError(f"{path.name}: companion {role!r} file must be a name inside models/")
        if (
            not isinstance(sha, str)
            or len(sha) != 64
            or any(c not in "0123456789abcdef" for c in sha)
        ):
            raise CardError(
                f"{path.name}: companion {role!r} sha256 must be 64 lower-case hex digits"
            )


def _check_tagger(data: dict, path: Path) -> None:
    outputs = data.get("outputs")
    if not isinstance(outputs, list) or not outputs:
        raise CardError(f"{path.name}: a tagger card lists its outputs")
    if data.get("output_activation") not in ACTIVATIONS:
        raise CardError(f"{path.name}: output_activation must be one of {', '.join(ACTIVATIONS)}")
    spec = data.get("input")
    size = spec.get("size") if isinstance(spec, dict) else None
    if not (
        isinstance(size, list)
        and len(size) == 2
        and all(isinstance(n, int) and 0 < n <= 4096 for n in size)
    ):
        raise CardError(f"{path.name}: input.size must be [height, width] in pixels")
    label_map, thresholds = data.get("label_map"), data.get("thresholds")
    if not isinstance(label_map, dict) or not isinstance(thresholds, dict):
        raise CardError(f"{path.name}: a tagger card has label_map and thresholds")
    seen: set[int] = set()
    for label, indices in label_map.items():
        if label not in LABELS or label == "other":
            raise CardError(f"{path.name}: label_map has an unknown label {label!r}")
        if not isinstance(indices, list):
            raise CardError(f"{path.name}: label_map[{label!r}] must be a list of outputs")
        if label not in thresholds:
            raise CardError(f"{path.name}: no threshold for {label!r}")
        for index in indices:
            if not isinstance(index, int) or not 0 <= index < len(outputs):
                raise CardError(f"{path.name}: label_map[{label!r}] has a bad index {index!r}")
            if index in seen:
                raise CardError(f"{path.name}: output {index} is mapped to two labels")
            seen.add(index)
    for label, value in thresholds.items():
        if label not in LABELS or not isinstance(value, int | float) or not 0 < value <= 1:
            raise CardError(f"{path.name}: bad threshold for {label!r}")


def card_read(path: Path) -> ModelCard:
    """Parse and check one card (not its file). Raises CardError with a readable reason."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as error:
        raise CardError(f"{Path(path).name}: unreadable ({type(error).__name__})") from None
    if not isinstance(data, dict):
        raise CardError(f"{Path(path).name}: not a JSON object")
    _check(data, Path(path))
    return ModelCard(path=Path(path), data=data)


_digests: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, cached by (path, size, mtime) so repeated checks stay cheap.
    Raises OSError when the file cannot be read."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _digests:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _digests[key] = digest.hexdigest()
    return _digests[key]


def _verify_file(card: ModelCard, name: str, sha256: str, *, fresh: bool) -> None:
    path = card.path.parent / name
    if not path.is_file():
        raise CardError(f"{card.path.name}: model file {name} is missing")
    if fresh:
        for key in [key for key in _digests if key[0] == str(path)]:
            del _digests[key]
    try:
        actual = file_sha256(path)
    except OSError as error:
        raise CardError(f"{card.path.name}: model file unreadable ({error.strerror})") from None
    if actual != sha256:
        raise CardError(f"{card.path.name}: sha256 of {name} does not match its card")


def card_verify(card: ModelCard, *, fresh: bool = False) -> None:
    """Raise CardError unless the card's file (and each companion file) exists and matches its
    sha256. `fresh` re-hashes even when a file looks unchanged (the worker does, right before
    loading it)."""
    _verify_file(card, card.data["file"], card.sha256, fresh=fresh)
    for spec in card.get("companions", {}).values():
        _verify_file(card, spec["file"], spec["sha256"], fresh=fresh)


@dataclass
class CardRow:
    """One card as /healthz and `manage.py models` report it."""

    card_file: str
    card: ModelCard | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_dict(self) -> dict:
        row: dict = {"card": self.card_file, "ok": self.ok}
        if self.card is not None:
            row |= {"task": self.card.task, "model": self.card.model_id, "active": self.card.active}
        if self.error:
            row["error"] = self.error
        return row


def cards_scan(models_dir: Path) -> list[CardRow]:
    """Every `*.json` card in models_dir, each read and verified against its file."""
    rows = []
    for path in sorted(Path(models_dir).glob("*.json")) if Path(models_dir).is_dir() else []:
        try:
            card = card_read(path)
        except CardError as error:
            rows.append(CardRow(path.name, None, str(error)))
            continue
        try:
            card_verify(card)
        except CardError as error:
            rows.append(CardRow(path.name, card, str(error)))
            continue
        rows.append(CardRow(path.name, card, None))
    return rows


def active_card(models_dir: Path, task: str) -> ModelCard:
    """The one active card of `task`, verified. Raises CardError: none, several, or its file
    is missing or does not match."""
    found = []
    for path in sorted(Path(models_dir).glob("*.json")) if Path(models_dir).is_dir() else []:
        try:
            card = card_read(path)
        except CardError:
            continue  # reported by cards_scan; it cannot be the active one
        if card.task == task and card.active:
            found.append(card)
    if not found:
        raise CardError(f"no active {task} model in {models_dir}")
    if len(found) > 1:
        names = ", ".join(card.path.name for card in found)
        raise CardError(f"several active {task} models ({names}); mark one active")
    card = found[0]
    if card.get("smoke") is True or card.get("trained") is False:
        # A smoke-test model (the notebooks' one-epoch run on generated shapes) would tag real
        # photos at random: it never serves, whatever its card says about being active.
        raise CardError(f"{card.path.name}: an untrained (smoke-test) model cannot be active")
    card_verify(card)
    return card


def card_write(path: Path, data: dict) -> ModelCard:
    """Write a card atomically (temporary file in the same directory, then rename), after
    checking it. Raises CardError for a card that would not read back."""
    path = Path(path)
    _check(data, path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, ensure_ascii=False)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return ModelCard(path=path, data=data)
