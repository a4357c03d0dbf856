"""`manage.py export_training_set`: only the user's own confirmed labels, decrypted, private."""

import io
import stat

import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from tests.photos import support
from tests.photos.conftest import run_jobs
from tests.photos.uploads import upload
from tests.users import OTHER_PASSWORD, PASSWORD
from vault.photos.models import Photo, Tag
from vault.photos.tagging import tags_set_by_user

pytestmark = pytest.mark.django_db


def _upload_one(client, name: str) -> Photo:
    [outcome] = upload(client, (name, support.real_photo(name)))
    return Photo.objects.get(pk=outcome["photo"])


@pytest.fixture
def labelled(owner, other_user, owner_client, other_client, worker_key):
    """The owner's cat (confirmed animal), astronaut (confirmed human and other), coffee (model
    tags only) and rocket ("not a vehicle"); the other user's motorcycle (confirmed vehicle)."""
    names = ("chelsea", "astronaut", "coffee")
    photos = {name: _upload_one(owner_client, f"{name}.png") for name in names}
    photos["rocket"] = _upload_one(owner_client, "rocket.jpg")
    photos["motorcycle"] = _upload_one(other_client, "motorcycle_left.png")
    assert set(run_jobs()) == {"ready"}
    tags_set_by_user(user=owner, photo_ids=[photos["chelsea"].pk], label="animal", present=True)
    for label in ("human", "other"):
        tags_set_by_user(user=owner, photo_ids=[photos["astronaut"].pk], label=label, present=True)
    tags_set_by_user(user=owner, photo_ids=[photos["rocket"].pk], label="vehicle", present=False)
    tags_set_by_user(
        user=other_user, photo_ids=[photos["motorcycle"].pk], label="vehicle", present=True
    )
    return photos


def export(out, email, password, monkeypatch):
    stdout, stderr = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    call_command(
        "export_training_set",
        "--user",
        email,
        "--out",
        str(out),
        "--password-stdin",
        stdout=stdout,
        stderr=stderr,
    )
    return stdout.getvalue(), stderr.getvalue()


def test_only_confirmed_labels_are_written_decrypted_and_private(
    labelled, owner, tmp_path, monkeypatch
):
    out = tmp_path / "set"
    stdout, stderr = export(out, owner.email, PASSWORD, monkeypatch)
    assert "DECRYPTED" in stderr
    files = sorted(str(path.relative_to(out)) for path in out.rglob("*") if path.is_file())
    cat, astronaut = labelled["chelsea"].pk, labelled["astronaut"].pk
    expected = [f"animal/{cat}.jpg", f"human/{astronaut}.jpg", f"other/{astronaut}.jpg"]
    assert files == sorted(expected)
    # Untouched model tags, rejected labels and the other user's photos are not training data.
    assert Tag.objects.filter(photo=labelled["coffee"]).exclude(source=Tag.USER).exists()
    for name in ("coffee", "rocket", "motorcycle"):
        assert not list(out.rglob(f"{labelled[name].pk}*"))
    for path in out.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
        if path.is_file():
            with Image.open(path) as image:
                image.load()
                assert image.format == "JPEG" and min(image.size) > 100
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert "animal: 1" in stdout and "human: 1" in stdout and "vehicle: 0" in stdout
    assert "2 photo(s) written" in stdout


def test_a_wrong_password_is_refused_and_nothing_is_written(labelled, owner, tmp_path, monkeypatch):
    out = tmp_path / "set"
    with pytest.raises(CommandError, match="does not unlock"):
        export(out, owner.email, "guess", monkeypatch)
    assert not out.exists()


def test_another_users_password_does_not_export_the_owners_photos(
    labelled, owner, tmp_path, monkeypatch
):
    with pytest.raises(CommandError, match="does not unlock"):
        export(tmp_path / "set", owner.email, OTHER_PASSWORD, monkeypatch)


def test_a_folder_with_files_in_it_is_refused(labelled, owner, tmp_path, monkeypatch):
    out = tmp_path / "set"
    out.mkdir()
    (out / "stale.jpg").write_bytes(b"x")
    with pytest.raises(CommandError, match="not an empty folder"):
        export(out, owner.email, PASSWORD, monkeypatch)
