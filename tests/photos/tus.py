"""Driving resumable uploads (tus core protocol) the way the page's client does, and the
owner's keyring to read what they stored."""

from __future__ import annotations

import base64

from django.urls import reverse

from tests.users import PASSWORD
from vault.accounts.keyring import Keyring
from vault.accounts.services import keys_unlock_with_password

TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}


def tus_create(client, length: int, name: str = "long-walk.mp4", batch: str | None = None) -> str:
    """Create an upload of `length` bytes named `name` (in the page's upload `batch`, if
    given); return its URL (asserts 201)."""
    fields = [("filename", name)] + ([("batch", batch)] if batch is not None else [])
    meta = ",".join(f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in fields)
    response = client.post(
        reverse("photos:resumable_create"),
        HTTP_UPLOAD_LENGTH=str(length),
        HTTP_UPLOAD_METADATA=meta,
        **TUS,
    )
    assert response.status_code == 201, response.content
    return response["Location"]


def tus_patch(client, url: str, offset: int, data: bytes):
    """PATCH `data` at `offset` of the upload at `url`; Django's test client response."""
    return client.generic(
        "PATCH",
        url,
        data,
        content_type="application/offset+octet-stream",
        HTTP_UPLOAD_OFFSET=str(offset),
        **TUS,
    )


def owner_keyring(owner) -> Keyring:
    """The keyring of `owner` (signed up with tests.users.PASSWORD), unlocked."""
    unlocked = keys_unlock_with_password(owner, PASSWORD)
    return Keyring(user_id=owner.pk, umk=unlocked.umk, private_key=unlocked.private_key)
