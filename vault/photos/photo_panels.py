"""Panels other apps add to the photo page (the people app: who is in the photo), registered
at start-up so that photos never imports them (DESIGN §3)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Panel:
    template: str
    context: dict


# panel(request, photo) -> a Panel, or None when it has nothing to show
PanelMaker = Callable[..., Panel | None]
_makers: list[PanelMaker] = []


def register(maker: PanelMaker) -> None:
    if maker not in _makers:
        _makers.append(maker)


def panels_for(request, photo) -> list[Panel]:
    panels = []
    for maker in _makers:
        panel = maker(request, photo)
        if panel is not None:
            panels.append(panel)
    return panels
