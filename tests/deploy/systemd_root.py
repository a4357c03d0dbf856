"""A root directory for `systemd-analyze --root`: the host's own units plus the units under
test, with a stub for every command they run (systemd-analyze refuses a unit whose command
is missing)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

HOST_UNITS = Path("/usr/lib/systemd/system")


def systemd_root(root: Path, units: dict[str, str]) -> Path:
    """Fill `root` with the host's units and `units` (path under etc/systemd/system -> text),
    each Exec*= command stubbed by an executable `#!/bin/sh`; returns `root`."""
    shutil.copytree(HOST_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    for relative, text in units.items():
        path = root / "etc/systemd/system" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        for command in re.findall(r"^Exec\w+=[-@:+!]*(/\S+)", text, flags=re.MULTILINE):
            stub = root / command.lstrip("/")
            stub.parent.mkdir(parents=True, exist_ok=True)
            stub.write_text("#!/bin/sh\n")
            stub.chmod(0o755)
    return root
