"""How the people app plugs into the photo pages without photos ever importing people."""


def register() -> None:
    pass
