"""Model cards (vault.modelcards) and everything that reports on them: the Django system check
(`check --deploy`), `manage.py models` and /healthz. A card that lies about its file, or a
missing or doubled active model, is caught before a worker would load it."""

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from vault import modelcards
from vault.health.checks import model_cards_check

MODELS = Path(__file__).resolve().parent.parent / "models"


def _tagger_card(file: str, data: bytes, **extra) -> dict:
    return {
        "name": "tiny",
        "task": "tagger",
        "file": file,
        "sha256": hashlib.sha256(data).hexdigest(),
        "format": "keras",
        "source": "tests",
        "licence": "CC0-1.0",
        "date": "2026-11-30",
        "outputs": ["cat", "car"],
        "output_activation": "softmax",
        "input": {"size": [8, 8]},
        "label_map": {"animal": [0], "vehicle": [1]},
        "thresholds": {"animal": 0.5, "vehicle": 0.5},
        "active": True,
        **extra,
    }


@pytest.fixture
def models_dir(tmp_path, settings):
    (tmp_path / "tiny.keras").write_bytes(b"weights")
    (tmp_path / "tiny.json").write_text(json.dumps(_tagger_card("tiny.keras", b"weights")))
    settings.VAULT_MODELS_DIR = tmp_path
    return tmp_path


def test_the_committed_default_tagger_card_is_valid_and_active():
    card = modelcards.active_card(MODELS, "tagger")
    assert card.file.is_file() and card.get("licence") == "Apache-2.0"
    assert modelcards.file_sha256(card.file) == card.sha256
    assert card.model_id == f"{card.name}@{card.sha256[:12]}"
    assert model_cards_check() == [] or pytest.fail(str(model_cards_check()))


def test_a_changed_model_file_is_refused(models_dir):
    assert modelcards.active_card(models_dir, "tagger").model_id.startswith("tiny@")
    (models_dir / "tiny.keras").write_bytes(b"weightz")
    with pytest.raises(modelcards.CardError, match="does not match"):
        modelcards.active_card(models_dir, "tagger")
    [row] = modelcards.cards_scan(models_dir)
    assert not row.ok and "does not match" in row.error
    # The bad file, and (since it is the active one) the tagger the workers would lack (this
    # models dir has no face models either: one E002 each).
    errors = model_cards_check()
    assert sorted({error.id for error in errors}) == ["vault.E001", "vault.E002"]
    assert any("no usable tagger" in error.msg for error in errors)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"sha256": "00"}, "64 lower-case hex"),
        ({"file": "../etc/passwd"}, "a name inside models/"),
        ({"task": "poetry"}, "unknown task"),
        ({"label_map": {"animal": [0], "vehicle": [0]}}, "mapped to two labels"),
        ({"label_map": {"animal": [7]}}, "bad index"),
        ({"label_map": {"cat": [0]}}, "unknown label"),
        ({"thresholds": {"animal": 0.5}}, "no threshold for 'vehicle'"),
        ({"output_activation": "relu"}, "output_activation"),
        ({"input": [224, 224]}, "input.size"),
        ({"input": {"size": [0, -1]}}, "input.size"),
        ({"label_map": {"animal": 0, "vehicle": [1]}}, "must be a list"),
    ],
)
def test_malformed_cards_are_refused_with_a_reason(models_dir, change, reason):
    card = _tagger_card("tiny.keras", b"weights") | change
    (models_dir / "tiny.json").write_text(json.dumps(card))
    with pytest.raises(modelcards.CardError, match=reason):
        modelcards.card_read(models_dir / "tiny.json")
    assert any(reason in message.msg for message in model_cards_check())


@pytest.mark.parametrize("flag", [{"smoke": True}, {"trained": False}])
def test_a_smoke_or_untrained_model_never_serves(models_dir, flag):
    card = _tagger_card("tiny.keras", b"weights") | flag
    (models_dir / "tiny.json").write_text(json.dumps(card))
    with pytest.raises(modelcards.CardError, match="untrained"):
        modelcards.active_card(models_dir, "tagger")
    assert any(message.id == "vault.E002" for message in model_cards_check())


def test_two_active_taggers_are_an_error(models_dir):
    (models_dir / "tiny2.json").write_text(json.dumps(_tagger_card("tiny.keras", b"weights")))
    with pytest.raises(modelcards.CardError, match="several active tagger"):
        modelcards.active_card(models_dir, "tagger")


def test_check_deploy_fails_on_a_bad_card(models_dir):
    (models_dir / "tiny.keras").write_bytes(b"tampered")
    with pytest.raises(Exception, match=r"vault\.E00"):
        call_command("check", "--deploy", "--fail-level", "ERROR")


def test_models_command_lists_cards_and_fails_on_a_mismatch(models_dir, capsys):
    call_command("models")
    out = capsys.readouterr().out
    assert "tiny.json" in out and "active tagger: tiny@" in out and " ok" in out
    (models_dir / "tiny.keras").write_bytes(b"tampered")
    with pytest.raises(CommandError, match="problem"):
        call_command("models")
    assert "BAD" in capsys.readouterr().out


def test_card_write_is_atomic_and_reads_back(tmp_path):
    shutil.copy(MODELS / "tagger-efficientnet-lite0.json", tmp_path / "copy.json")
    data = json.loads((tmp_path / "copy.json").read_text())
    data["active"] = False
    modelcards.card_write(tmp_path / "copy.json", data)
    assert modelcards.card_read(tmp_path / "copy.json").active is False
    assert [p.name for p in tmp_path.iterdir()] == ["copy.json"]  # no temporary left
    with pytest.raises(modelcards.CardError):
        modelcards.card_write(tmp_path / "copy.json", data | {"task": "poetry"})
    assert modelcards.card_read(tmp_path / "copy.json").task == "tagger"  # unchanged


def test_a_deeply_nested_card_is_reported_not_raised(models_dir):
    (models_dir / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(modelcards.CardError, match="unreadable"):
        modelcards.card_read(models_dir / "deep.json")
    assert modelcards.active_card(models_dir, "tagger").name == "tiny"  # the good card serves


def test_a_fresh_check_rehashes_a_file_swapped_under_the_same_size_and_time(models_dir):
    import os

    model = models_dir / "tiny.keras"
    card = modelcards.active_card(models_dir, "tagger")
    stat = model.stat()
    model.write_bytes(b"weightz")  # same size
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the same time
    modelcards.card_verify(card)  # the cheap check trusts its cache...
    with pytest.raises(modelcards.CardError, match="does not match"):
        modelcards.card_verify(card, fresh=True)  # ...the worker's check before loading does not


def test_a_companion_file_is_verified_like_the_model_file(tmp_path):
    # The face embedder needs a second file (dlib's landmark predictor): its card lists it
    # under `companions`, and a changed or missing companion makes the whole card unusable.
    (tmp_path / "net.dat").write_bytes(b"network")
    (tmp_path / "marks.dat").write_bytes(b"landmarks")
    card = _tagger_card("net.dat", b"network") | {
        "task": "face_embedder",
        "format": "dlib",
        "companions": {
            "landmarks": {
                "file": "marks.dat",
                "sha256": hashlib.sha256(b"landmarks").hexdigest(),
            }
        },
    }
    (tmp_path / "embedder.json").write_text(json.dumps(card))
    active = modelcards.active_card(tmp_path, "face_embedder")
    assert active.companion("landmarks") == tmp_path / "marks.dat"
    (tmp_path / "marks.dat").write_bytes(b"landmarkz")
    with pytest.raises(modelcards.CardError, match=r"sha256 of marks\.dat does not match"):
        modelcards.card_verify(active, fresh=True)
    (tmp_path / "marks.dat").unlink()
    with pytest.raises(modelcards.CardError, match=r"marks\.dat is missing"):
        modelcards.active_card(tmp_path, "face_embedder")


@pytest.mark.parametrize(
    ("companions", "reason"),
    [
        ([], "companions must be an object"),
        ({"landmarks": "marks.dat"}, "must be {file, sha256}"),
        ({"landmarks": {"file": "../marks.dat", "sha256": "0" * 64}}, "a name inside models/"),
        ({"landmarks": {"file": "marks.dat", "sha256": "00"}}, "64 lower-case hex"),
    ],
)
def test_malformed_companions_are_refused_with_a_reason(tmp_path, companions, reason):
    card = _tagger_card("net.dat", b"network") | {"companions": companions}
    (tmp_path / "card.json").write_text(json.dumps(card))
    with pytest.raises(modelcards.CardError, match=re.escape(reason)):
        modelcards.card_read(tmp_path / "card.json")
