"""The vault's release version, kept in one place: `version` in pyproject.toml.

/healthz and the backup manifests show it, so an operator can tell which release is running and
which release made a backup (`tests/upgrade/` restores a backup of every release into this one).
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


@cache
def vault_version() -> str:
    """The release version string (PEP 440, e.g. "0.3.0") from pyproject.toml's [project]
    table. Raises RuntimeError when the file or the field is missing: a release tree always
    carries pyproject.toml (the deploy copies the whole repository)."""
    try:
        with PYPROJECT.open("rb") as stream:
            return str(tomllib.load(stream)["project"]["version"])
    except (OSError, tomllib.TOMLDecodeError, KeyError) as error:
        raise RuntimeError(f"cannot read the vault's version from {PYPROJECT}: {error}") from None
