"""Canonical, unambiguous byte encodings for the strings that bind keys to their context.

Every string is length-prefixed, so ("ab", "c") and ("a", "bc") never encode to the same bytes.
"""

import struct

MAX_FIELD_BYTES = 1024  # ids, labels and table names are short; refuse anything absurd


def length_prefixed(label: bytes, *parts: str) -> bytes:
    """Return `label` followed by each part as u16 length ‖ UTF-8 bytes."""
    out = bytearray(label)
    for part in parts:
        if not isinstance(part, str):
            raise TypeError(f"expected str, got {type(part).__name__}")
        raw = part.encode("utf-8")
        if len(raw) > MAX_FIELD_BYTES:
            raise ValueError(f"field longer than {MAX_FIELD_BYTES} bytes")
        out += struct.pack(">H", len(raw)) + raw
    return bytes(out)
