"""Import arrows point one way (STYLE.md): the vault never imports the worker, training, the
benchmarks or the tests; training never imports the benchmarks; nothing but the tests imports
the tests. Shared helpers live where both sides may import them (vaultdev/ for report tables
and sample files, training/ for evaluation data). Read from the source (imports inside
functions count too), so that a script no test runs is held to it as well; and every
first-party import must name a module that exists, so that a moved module cannot leave a
benchmark or a notebook helper behind that only fails when someone runs it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# package: the first-party packages it may import (besides itself)
ALLOWED = {
    "vault": set(),
    "worker": {"vault"},
    "vaultdev": {"vault"},
    "training": {"vault", "worker", "vaultdev"},
    "bench": {"vault", "worker", "vaultdev", "training"},
    "tests": {"vault", "worker", "vaultdev", "training"},
}


def _imports(path: Path):
    """(line, module, names imported from it) of every absolute import in the file, at any
    depth."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module, [alias.name for alias in node.names]


def _first_party():
    for package in ALLOWED:
        for path in sorted((ROOT / package).rglob("*.py")):
            for line, module, names in _imports(path):
                if module.split(".")[0] in ALLOWED:
                    yield package, path.relative_to(ROOT), line, module, names


def _exists(module: str, names: list[str]) -> bool:
    """Whether `module` exists and, when it is a package, each of `names` is a submodule of it
    or a name its __init__ mentions."""
    base = ROOT.joinpath(*module.split("."))
    if base.with_suffix(".py").is_file():
        return True
    if not base.is_dir():
        return False
    init = base / "__init__.py"  # bench/ is a namespace package, without one
    text = init.read_text(encoding="utf-8") if init.is_file() else ""
    return all(
        (base / f"{name}.py").is_file() or (base / name / "__init__.py").is_file() or name in text
        for name in names
    )


def test_imports_point_one_way():
    wrong = [
        f"{path}:{line} imports {module}"
        for package, path, line, module, _names in _first_party()
        if module.split(".")[0] not in ALLOWED[package] | {package}
    ]
    assert not wrong, "\n".join(wrong)


def test_every_first_party_import_names_a_module_that_exists():
    missing = [
        f"{path}:{line} imports {module}"
        for _package, path, line, module, names in _first_party()
        if not _exists(module, names)
    ]
    assert not missing, "\n".join(missing)
