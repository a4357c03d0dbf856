"""This worker process's X25519 key pair (DESIGN §4). It exists only in memory: made when the
process starts, advertised in Valkey while the process lives, gone when it exits. Grants are
wrapped to it, so a restarted worker cannot open grants made for its previous life."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from vault.crypto import keys
from vault.processing import worker_keys


@dataclass(frozen=True)
class WorkerIdentity:
    private_key: bytes
    public_key: bytes

    @cached_property
    def key_id(self) -> str:
        return worker_keys.key_id(self.public_key)

    def __repr__(self) -> str:
        return f"WorkerIdentity(key_id={self.key_id})"


_current: WorkerIdentity | None = None


def current() -> WorkerIdentity:
    """The process's identity, made on first use. A forked work horse inherits its parent's."""
    global _current
    if _current is None:
        private_key, public_key = keys.new_keypair()
        _current = WorkerIdentity(private_key=private_key, public_key=public_key)
    return _current


def forget() -> None:
    """Drop the key (tests: play a restarted worker)."""
    global _current
    _current = None
