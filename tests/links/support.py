"""Helpers of the link tests: create a link as the owner and read its key from the page."""

from __future__ import annotations

import base64
import re

from vault.crypto import link_keys

URL = re.compile(r'value="(http://[^"]+/l/([0-9a-f-]{36})#([A-Za-z0-9_-]{43}))"')


def create(client, *, album=None, photos=(), **settings) -> tuple[str, str, bytes]:
    """POST the creation form; returns (url, link id, LK)."""
    data = {"expiry": "week", **settings}
    if album is not None:
        data["link_album"] = str(album.id)
    if photos:
        data["photo"] = [str(p.id) for p in photos]
    response = client.post("/links/new", data)
    assert response.status_code == 200, response.content[:500]
    match = URL.search(response.content.decode())
    assert match, response.content.decode()[:2000]
    url, link_id, key = match.groups()
    return url, link_id, base64.urlsafe_b64decode(key + "=")


def token_header(lk: bytes) -> dict:
    token = base64.urlsafe_b64encode(link_keys.access_token(lk)).rstrip(b"=").decode()
    return {"HTTP_X_LINK_TOKEN": token}
