"""Fixtures of the multi-host tests: a lab of network namespaces (vaultdev/netns.py), skipped
with its reason where namespaces cannot be made (not root, no `ip netns`)."""

from __future__ import annotations

import pytest

from vaultdev import netns


@pytest.fixture(scope="session")
def netns_ready():
    reason = netns.unavailable()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def lab(netns_ready):
    """An empty Lab: the test adds hosts, then calls start(); closed after the test."""
    made = netns.Lab()
    yield made
    made.close()
