"""`make lab`: JupyterLab on the training requirements, opened on the training notebooks, in
one command (issue 24). The launch test needs requirements/training.txt installed (JupyterLab
is not part of the test requirements) and is skipped without it."""

import json
import os
import signal
import socket
import subprocess
import urllib.request
from pathlib import Path

import pytest

from vaultdev.pytest_plugin import wait_until

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(path.name for path in (ROOT / "training" / "notebooks").glob("*.ipynb"))


def _make_n(*args: str) -> str:
    done = subprocess.run(
        ["make", "-n", *args], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout


def test_make_lab_installs_the_training_requirements_and_opens_the_notebooks():
    # As if requirements/training.txt had just changed: make installs it before starting.
    plan = _make_n("-W", "requirements/training.txt", "lab", "LAB_ARGS=--no-browser")
    lines = [line.strip() for line in plan.splitlines()]
    install = next(i for i, line in enumerate(lines) if "-r requirements/training.txt" in line)
    start = next(i for i, line in enumerate(lines) if "jupyterlab" in line)
    assert install < start
    assert "--ServerApp.root_dir=training/notebooks" in lines[start]
    assert "--no-browser" in plan
    assert "jupyterlab==" in (ROOT / "requirements" / "training.txt").read_text()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_make_lab_serves_the_training_notebooks():
    pytest.importorskip("jupyterlab", reason="requirements/training.txt is not installed")
    port, token = _free_port(), "spv-test-token"
    args = f"--no-browser --port={port} --IdentityProvider.token={token}"
    lab = subprocess.Popen(
        ["make", "lab", f"LAB_ARGS={args}"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    listed = []

    def notebooks_listed() -> bool:
        url = f"http://127.0.0.1:{port}/api/contents?token={token}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                listed[:] = sorted(item["name"] for item in json.load(response)["content"])
        except OSError:
            return False
        return True

    try:
        wait_until(notebooks_listed, timeout=120, interval=0.5)
        assert [name for name in listed if name.endswith(".ipynb")] == NOTEBOOKS
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        lab.wait(timeout=30)
