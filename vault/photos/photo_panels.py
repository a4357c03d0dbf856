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


# Actions other apps add to the gallery's select mode (the albums app: "Add to album"): each
# maker(request) gives a Panel whose template holds buttons of the selection form, or None.
_selection_makers: list[PanelMaker] = []


def register_selection_action(maker: PanelMaker) -> None:
    if maker not in _selection_makers:
        _selection_makers.append(maker)


def selection_actions_for(request) -> list[Panel]:
    return [panel for maker in _selection_makers if (panel := maker(request)) is not None]


# Panels other apps add to the top of the gallery (the albums app: show or hide a partner's
# photos): maker(request) gives a Panel or None.
_gallery_makers: list[PanelMaker] = []


def register_gallery_panel(maker: PanelMaker) -> None:
    if maker not in _gallery_makers:
        _gallery_makers.append(maker)


def gallery_panels_for(request) -> list[Panel]:
    return [panel for maker in _gallery_makers if (panel := maker(request)) is not None]
