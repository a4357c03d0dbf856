"""The two exception types the crypto package raises on purpose.

Every failure to decrypt, unwrap or authenticate is a `DecryptionError` with the same message:
telling an attacker *which* check failed (tag, MAC, size, key id) only helps them probe.
"""


class DecryptionError(Exception):
    """Raised for any failed decrypt, unwrap or MAC check; the message never says why."""

    GENERIC_MESSAGE = "decryption failed"

    def __init__(self) -> None:
        super().__init__(self.GENERIC_MESSAGE)


class RecoveryKeyFormatError(ValueError):
    """A recovery key that was mistyped, caught by its checksum before any cryptography runs.

    The message is meant for the person typing the key, e.g. "the recovery key has a typo in
    group 5".
    """
