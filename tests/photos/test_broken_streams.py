"""A blob that fails authentication in the middle of a response: the server drops the connection
at once (the client sees EOF short of Content-Length), sends no byte of the damaged chunk, and
logs one line naming the photo and the variant. Checked with a raw socket against the test
live server (Django's wsgiref server) and against gunicorn with gthread workers."""

from __future__ import annotations

import logging
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.photos import support
from tests.photos.uploads import upload
from tests.users import PASSWORD
from vault.accounts.services import keys_unlock_with_password
from vault.crypto import container
from vault.crypto.keys import public_from_private
from vault.photos import blobs, storage
from vault.photos.models import Photo

pytestmark = pytest.mark.django_db(transaction=True)

CHUNK = container.CHUNK
LENGTH = 3 * CHUNK + 1000  # three whole chunks and a short last one
DAMAGED = 3  # the last chunk: a byte "near the end" of the file is flipped
TIMEOUT = 5.0  # seconds a client may wait; a hang (the bug) waited 75 s
LOGGER = "vault.photos.views.content"
VARIANTS = {"thumb": "thumb", "preview": "preview", "download": "original"}


@pytest.fixture(autouse=True)
def _no_tagger(settings, tmp_path):
    settings.VAULT_MODELS_DIR = tmp_path / "no-models"  # never load TensorFlow here


def photo_with_blobs(client, owner, sizes: dict[str, int]) -> tuple[Photo, dict[str, bytes]]:
    """Upload a photo, then replace its variants' blobs with random bytes of the given sizes
    (no worker needed); return the photo and each variant's plaintext."""
    [outcome] = upload(client, ("broken.jpg", support.jpeg(support.picture(320, 240))))
    photo = Photo.objects.get(pk=outcome["photo"])
    private_key = keys_unlock_with_password(owner, PASSWORD).private_key
    data_key = blobs.original_data_key(photo, private_key=private_key)
    rng = random.Random(12)
    plain = {}
    for variant, size in sizes.items():
        plain[variant] = rng.randbytes(size)
        blobs.blob_write(
            photo=photo,
            variant=variant,
            data=plain[variant],
            data_key=data_key,
            owner_public_key=public_from_private(private_key),
            media_type="image/jpeg",
        )
    Photo.objects.filter(pk=photo.pk).update(state=Photo.State.READY)
    return photo, plain


def damage(photo: Photo, variant: str, from_end: int = 500) -> None:
    """Flip one byte `from_end` bytes before the end of the blob's file (in its last chunk)."""
    path = storage.blob_path(photo.owner_id, photo.id, variant, 0)
    data = bytearray(path.read_bytes())
    data[-from_end] ^= 0x01
    path.write_bytes(bytes(data))


def cookie_header(client) -> str:
    return "; ".join(f"{name}={morsel.value}" for name, morsel in client.cookies.items())


class RawResponse:
    def __init__(self, raw: bytes, elapsed: float, ended: str) -> None:
        self.elapsed, self.ended = elapsed, ended
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n") if head else []
        self.status = int(lines[0].split()[1]) if lines else None
        self.headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines[1:])
        }


def raw_get(
    host: str, port: int, path: str, cookies: str, extra: str = "", connection: str = "keep-alive"
) -> RawResponse:
    """GET over a plain keep-alive socket, reading until the server ends the connection or
    TIMEOUT passes: what a browser sees, without a client library's own patience rules."""
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nCookie: {cookies}\r\n"
        f"Connection: {connection}\r\n{extra}\r\n"
    ).encode()
    raw = bytearray()
    start = time.monotonic()
    with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
        sock.sendall(request)
        deadline = start + TIMEOUT
        ended = "timeout"
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                piece = sock.recv(65536)
            except TimeoutError:
                break
            except ConnectionResetError:
                ended = "reset"
                break
            if not piece:
                ended = "eof"
                break
            raw += piece
    return RawResponse(bytes(raw), time.monotonic() - start, ended)


def abort_lines(records, photo: Photo, variant: str) -> list[logging.LogRecord]:
    return [r for r in records if str(photo.id) in r.getMessage() and variant in r.getMessage()]


def assert_aborted(response: RawResponse, expected: bytes, length: int) -> None:
    """Ended within the timeout, short of Content-Length, with exactly the good chunks."""
    assert response.ended in ("eof", "reset"), f"the connection hung ({response.elapsed:.1f} s)"
    assert response.elapsed < TIMEOUT
    assert int(response.headers["content-length"]) == length
    assert len(response.body) < length
    # Everything before the damaged chunk, and not one byte of it.
    assert response.body == expected


RANGE_START, RANGE_END = CHUNK + 10, DAMAGED * CHUNK + 500  # covers the damaged chunk
CASES = [
    # (route, Range header, status, first byte, Content-Length)
    ("thumb", None, 200, 0, LENGTH),
    ("preview", None, 200, 0, LENGTH),
    ("download", None, 200, 0, LENGTH),
    ("download", f"bytes={RANGE_START}-{RANGE_END}", 206, RANGE_START, RANGE_END + 1 - RANGE_START),
]


@pytest.mark.parametrize(
    ("route", "byte_range", "status", "start", "length"),
    CASES,
    ids=["thumb", "preview", "download", "download-range"],
)
def test_a_chunk_that_fails_mid_response_drops_the_connection_at_once(
    live_server, owner_client, owner, caplog, route, byte_range, status, start, length
):
    variant = VARIANTS[route]
    photo, plain = photo_with_blobs(owner_client, owner, {variant: LENGTH})
    damage(photo, variant)
    caplog.set_level(logging.INFO)
    caplog.clear()
    response = raw_get(
        live_server.thread.host,
        live_server.thread.port,
        f"/photos/{photo.id}/{route}",
        cookie_header(owner_client),
        f"Range: {byte_range}\r\n" if byte_range else "",
    )

    assert response.status == status
    assert_aborted(response, plain[variant][start : DAMAGED * CHUNK], length)
    [line] = abort_lines(caplog.records, photo, variant)
    assert line.name == LOGGER and line.levelno == logging.WARNING
    assert line.exc_info is None and "\n" not in line.getMessage()
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


def test_a_range_that_stops_before_the_damaged_chunk_is_served_whole(
    live_server, owner_client, owner, caplog
):
    photo, plain = photo_with_blobs(owner_client, owner, {"original": LENGTH})
    damage(photo, "original")
    caplog.set_level(logging.INFO)
    response = raw_get(
        live_server.thread.host,
        live_server.thread.port,
        f"/photos/{photo.id}/download",
        cookie_header(owner_client),
        f"Range: bytes=0-{DAMAGED * CHUNK - 1}\r\n",
        connection="close",
    )
    assert response.status == 206 and response.ended == "eof"
    assert response.body == plain["original"][: DAMAGED * CHUNK]
    assert not abort_lines(caplog.records, photo, "original")


def test_a_damaged_one_chunk_thumbnail_gets_an_error_answer(
    live_server, owner_client, owner, caplog
):
    """Real thumbnails fit in one chunk: it is checked before the status line is sent, so the
    client gets a 404 saying the picture cannot be read, not an empty 200 or no answer."""
    photo, _ = photo_with_blobs(owner_client, owner, {"thumb": 30_000})
    damage(photo, "thumb")
    caplog.set_level(logging.INFO)
    response = raw_get(
        live_server.thread.host,
        live_server.thread.port,
        f"/photos/{photo.id}/thumb",
        cookie_header(owner_client),
        connection="close",
    )
    assert response.ended in ("eof", "reset") and response.elapsed < TIMEOUT
    assert response.status == 404
    assert response.body  # a page, not an empty reply
    [line] = [r for r in abort_lines(caplog.records, photo, "thumb") if r.name == LOGGER]
    assert "fails authentication" in line.getMessage()
    # The same through Django's client (which saw an empty 200 before).
    assert owner_client.get(f"/photos/{photo.id}/thumb").status_code == 404


def test_the_server_keeps_serving_after_an_abort(live_server, owner_client, owner):
    photo, plain = photo_with_blobs(owner_client, owner, {"thumb": LENGTH, "preview": LENGTH})
    damage(photo, "thumb")
    host, port = live_server.thread.host, live_server.thread.port
    cookies = cookie_header(owner_client)
    assert raw_get(host, port, f"/photos/{photo.id}/thumb", cookies).ended in ("eof", "reset")
    good = raw_get(host, port, f"/photos/{photo.id}/preview", cookies, connection="close")
    assert good.status == 200 and good.body == plain["preview"]


# --- gunicorn, as in production -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gunicorn_server(vault_services, settings):
    """`gunicorn vault.wsgi` with gthread workers against the test database and data directory
    (the env plumbing of vaultdev.pytest_plugin's start_worker). Yields (port, output())."""
    from django.db import connection

    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="spv-gunicorn-", suffix=".log")  # noqa: SIM115
    env = dict(
        os.environ,
        DATABASE_URL=vault_services.database_url(connection.settings_dict["NAME"]),
        REDIS_URL=vault_services.redis_url,
        VAULT_DATA_DIR=str(settings.VAULT_DATA_DIR),
        VAULT_MODELS_DIR=str(settings.VAULT_MODELS_DIR),
        LOG_LEVEL="INFO",
    )
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--worker-class", "gthread", "--threads", "4",
         "--log-level", "debug", "vault.wsgi:application"],
        cwd=Path(__file__).resolve().parents[2], env=env, start_new_session=True,
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip

    def output() -> str:
        return Path(log.name).read_text(errors="replace")

    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail(f"gunicorn did not start:\n{output()[-4000:]}")
        yield port, output
    finally:
        os.killpg(process.pid, 15)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
        sys.stderr.write(f"--- gunicorn output ---\n{output()[-8000:]}\n")
        log.close()


def test_gunicorn_drops_the_connection_and_logs_one_line(gunicorn_server, owner_client, owner):
    port, output = gunicorn_server
    photo, plain = photo_with_blobs(
        owner_client, owner, {"thumb": LENGTH, "preview": LENGTH, "original": LENGTH}
    )
    for variant in ("thumb", "original"):
        damage(photo, variant)
    cookies = cookie_header(owner_client)
    for route, extra, start, length in (
        ("thumb", "", 0, LENGTH),
        ("download", f"Range: bytes={CHUNK}-\r\n", CHUNK, LENGTH - CHUNK),
    ):
        response = raw_get("127.0.0.1", port, f"/photos/{photo.id}/{route}", cookies, extra)
        assert response.status in (200, 206)
        assert_aborted(response, plain[VARIANTS[route]][start : DAMAGED * CHUNK], length)
    good = raw_get("127.0.0.1", port, f"/photos/{photo.id}/preview", cookies, connection="close")
    assert good.status == 200 and good.body == plain["preview"]

    text = output()
    for variant in ("thumb", "original"):
        lines = [line for line in text.splitlines() if f"{photo.id}: {variant} blob" in line]
        assert len(lines) == 1, text[-4000:]
    assert "Traceback" not in text and "Error handling request" not in text, text[-4000:]
    assert "Ignoring connection reset" in text  # gunicorn's debug line for StreamAborted
