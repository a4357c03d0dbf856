"""Owner visits: the moments when a signed-in owner's keys are at hand (the gallery, the upload
page, the status the pages poll) and work that needs them can be granted. Apps register what
they do then — the people app starts a due clustering run — so that photos, which calls
`owner_visited`, never imports them (DESIGN §3: people depends on photos, never the reverse)."""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

Hook = Callable[..., object]  # hook(*, user, keyring, workers: dict[str, bytes])
_hooks: list[Hook] = []


def on_owner_visit(hook: Hook) -> Hook:
    """Register `hook` (idempotent; usable as a decorator)."""
    if hook not in _hooks:
        _hooks.append(hook)
    return hook


def owner_visited(*, user, keyring, workers: dict[str, bytes]) -> None:
    """Run every registered hook. A failing hook is logged and the page still loads."""
    for hook in _hooks:
        try:
            hook(user=user, keyring=keyring, workers=workers)
        except Exception:
            log.exception("owner visit hook %s failed", getattr(hook, "__name__", hook))
