"""Reading links: the owner's list, and the link a visitor's request names."""

from __future__ import annotations

import uuid

from vault.crypto import link_keys
from vault.links.models import Link, LinkPhoto
from vault.photos.models import Blob


def owner_links(*, owner) -> list[Link]:
    return list(Link.objects.filter(owner=owner).select_related("album"))


def working_link(*, link_id: uuid.UUID, token_header: str) -> Link | None:
    """The link when it exists, works (not revoked, not expired) and the token matches its
    hash; None otherwise (the caller answers one "no longer works" page for every case)."""
    link = Link.objects.filter(pk=link_id).first()
    if link is None or not link.works():
        return None
    token = link_keys.token_from_header(token_header)
    if token is None or not link_keys.token_matches(token, link.token_hash):
        return None
    return link


def link_manifest(link: Link) -> dict:
    """What the visitor's page needs, and nothing else: no album name, owner email or count of
    other photos. Wraps are base64 (standard alphabet) for the page to open with KL."""
    import base64

    def b64(value) -> str | None:
        return base64.b64encode(bytes(value)).decode() if value is not None else None

    entries = list(LinkPhoto.objects.filter(link=link).select_related("photo"))
    blob_rows = Blob.objects.filter(
        photo_id__in=[e.photo_id for e in entries],
        variant__in=["thumb", "preview", "original"],
        index=0,
    ).values("photo_id", "variant", "media_type", "size")
    variants: dict = {}
    for row in blob_rows:
        variants.setdefault(row["photo_id"], {})[row["variant"]] = {
            "type": row["media_type"],
            "size": row["size"],
        }
    photos = []
    for entry in entries:
        photo = entry.photo
        have = variants.get(photo.id, {})
        if not link.allow_downloads:
            have.pop("original", None)
        photos.append(
            {
                "id": str(photo.id),
                "owner": str(int(photo.owner_id)),
                "taken": photo.taken_at.date().isoformat() if photo.taken_at else None,
                "width": photo.width,
                "height": photo.height,
                "variants": have,
                "dk": b64(entry.wrapped_data_key),
                "name": b64(entry.name_sealed),
                "place": b64(entry.place_sealed),
            }
        )
    return {
        "link": str(link.id),
        "allow_downloads": link.allow_downloads,
        "expires": link.expires_at.isoformat() if link.expires_at else None,
        "photos": photos,
    }
