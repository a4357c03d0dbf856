"""The table every development-machine report prints (bench/ and the training evaluations):
first column left-aligned, figures right-aligned; and the process memory they quote."""

from __future__ import annotations

from pathlib import Path


def print_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for i, row in enumerate([header, tuple("-" * w for w in widths), *rows]):
        cells = [
            c.ljust(w) if j == 0 or i == 0 else c.rjust(w)
            for j, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())


def memory_mib() -> dict[str, float]:
    """VmRSS (now) and VmHWM (peak so far) of this process in MiB, from /proc/self/status."""
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024 / (1 << 20)
    return values
