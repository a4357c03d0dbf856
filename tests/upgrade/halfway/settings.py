"""The vault's settings plus the throwaway app `halfway`, whose second migration fails after its
first operation (tests/upgrade/test_migration_failure.py runs `manage.py migrate` with these)."""

from vault.settings import *  # noqa: F403 - the vault's settings, unchanged
from vault.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.upgrade.halfway"]
