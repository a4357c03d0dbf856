"""`BlobContext`: which user, photo, variant and index a blob belongs to.

The context comes from the database, never from the file, and is MAC'd into every blob header,
so a blob copied to another user, photo or variant fails to open.
"""

import struct
from dataclasses import dataclass

from vault.crypto._encoding import length_prefixed

# "rendition": a video re-encoded so that browsers can play it (DESIGN §12).
# "part": one piece of an unfinished resumable upload (vault/photos/resumable.py).
# "motion": the clip inside a motion photo.
VARIANTS = frozenset({"original", "thumb", "preview", "face", "rendition", "part", "motion"})
_MAX_INDEX = 2**32 - 1


@dataclass(frozen=True)
class BlobContext:
    user_id: str
    photo_id: str
    variant: str
    index: int = 0

    def __post_init__(self) -> None:
        if not self.user_id or not self.photo_id:
            raise ValueError("user_id and photo_id must be non-empty")
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {sorted(VARIANTS)}")
        if isinstance(self.index, bool) or not isinstance(self.index, int):
            raise TypeError("index must be an int")
        if not 0 <= self.index <= _MAX_INDEX:
            raise ValueError("index out of range")

    def encode(self) -> bytes:
        """Canonical bytes for MACs and HPKE `info`: length-prefixed strings, then u32 index."""
        return length_prefixed(
            b"spv/v1/context", self.user_id, self.photo_id, self.variant
        ) + struct.pack(">I", self.index)
