"""The account tests use the suite's named users (tests/conftest.py)."""

from tests.users import OTHER_PASSWORD, PASSWORD

__all__ = ["OTHER_PASSWORD", "PASSWORD"]
