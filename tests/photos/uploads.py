"""Posting uploads the way the page does."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse


def upload(client, *files: tuple[str, bytes]):
    """POST the files in one request; return the per-file outcomes (JSON)."""
    response = client.post(
        reverse("photos:upload"),
        {"photos": [SimpleUploadedFile(name, data) for name, data in files]},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 200, response.content[:300]
    return response.json()["files"]
