"""Issue 18 step 5: the account views do not write keys or devices; services do
(vault.accounts.services for keys, vault.accounts.devices for second factors)."""

import ast
from pathlib import Path

import vault.accounts.views as views_package

WRITES = {"create", "bulk_create", "get_or_create", "update_or_create", "update", "delete", "save"}
WRITES |= {"verify_token", "throttle_increment", "throttle_reset", "generate_challenge"}


def _writes(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        func = getattr(node, "func", None) if isinstance(node, ast.Call) else None
        if isinstance(func, ast.Attribute) and func.attr in WRITES:
            found.append(f"{path.name}:{node.lineno} .{func.attr}()")
    return found


def test_account_views_write_no_rows_and_check_no_codes_themselves():
    folder = Path(views_package.__file__).parent
    found = [hit for path in sorted(folder.glob("*.py")) for hit in _writes(path)]
    assert found == []


def test_key_material_is_created_in_one_place():
    """Sign-up and start-over share one function that makes the keys (no second copy)."""
    import vault.accounts.services as services

    source = Path(services.__file__).read_text()
    assert source.count("keys.new_master_key()") == 1
    assert source.count("UserKeys.objects.create(") == 1
