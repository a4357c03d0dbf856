"""The one choke point for loading model files: verified against their card's sha256 every time
a file is loaded, loaded once per process under a lock, cached by (task, sha256). Each load is
logged ("loaded <task> model <id>"), which is how tests show that a worker loads a model once,
not once per job."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from vault import modelcards

log = logging.getLogger(__name__)

T = TypeVar("T")


class ModelUnavailable(Exception):
    """No usable model for a task: missing, failing its sha256, untrained, or not loadable.
    str(error) is the reason shown in /healthz and on the pages."""


_lock = threading.Lock()
_loaded: dict[tuple[str, str], object] = {}
_failed: dict[tuple[str, str], str] = {}
_loaded_ids: dict[tuple[str, str], str] = {}  # (task, sha256) -> model id ("name@sha prefix")
_threads_set = False


def configure_threads(threads: int) -> None:
    """Cap TensorFlow's intra- and inter-op thread pools (VAULT_ML_THREADS), so that several
    workers share the cores instead of each starting one thread per core. Only effective
    before TensorFlow runs its first op, so the loader calls it before the first load."""
    global _threads_set
    if _threads_set:
        return
    # TensorFlow's C++ start-up chatter (oneDNN notes, "failed call to cuInit" on a machine
    # without a GPU) reads like errors in the worker's log; real failures still raise.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    threads = max(1, int(threads))
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # TensorFlow already initialised (e.g. a notebook): keep its pools
        log.info("TensorFlow already running; its thread pools stay as they are")
    _threads_set = True


def load_active(task: str, models_dir: Path, build: Callable[[modelcards.ModelCard], T]) -> T:
    """The loaded active model of `task`: `build(card)` runs once per (task, sha256) and per
    process; later calls return the same object at once. Raises ModelUnavailable."""
    try:
        card = modelcards.active_card(Path(models_dir), task)
    except modelcards.CardError as error:
        raise ModelUnavailable(str(error)) from None
    return load_card(card, build)


def load_card(card: modelcards.ModelCard, build: Callable[[modelcards.ModelCard], T]) -> T:
    """As load_active, for a given card (the notebooks evaluate cards that are not active)."""
    key = (card.task, card.sha256)
    if key in _loaded:
        return _loaded[key]  # type: ignore[return-value]
    with _lock:
        if key in _loaded:
            return _loaded[key]  # type: ignore[return-value]
        if key in _failed:
            raise ModelUnavailable(_failed[key])
        if card.get("trained") is False:
            raise ModelUnavailable(f"{card.model_id} is untrained; it would give random labels")
        try:
            # Hash the bytes again right before loading: a file swapped since the last scan
            # is refused, never loaded.
            modelcards.card_verify(card, fresh=True)
        except modelcards.CardError as error:
            raise ModelUnavailable(str(error)) from None
        started = time.monotonic()
        try:
            model = build(card)
        except Exception as error:
            reason = f"{card.model_id} could not be loaded ({type(error).__name__})"
            _failed[key] = reason
            log.exception("%s", reason)
            raise ModelUnavailable(reason) from None
        log.info(
            "loaded %s model %s in %.2f s", card.task, card.model_id, time.monotonic() - started
        )
        _loaded[key] = model
        _loaded_ids[key] = card.model_id
        return model


def loaded_model_ids() -> dict[str, list[str]]:
    """{task: [model id, ...]} of the models this process has loaded (usually one per task;
    two after the active model was replaced while it ran). What a worker advertises with its
    heartbeat, so that /healthz shows what each worker really runs."""
    found: dict[str, list[str]] = {}
    for (task, _sha256), model_id in sorted(_loaded_ids.items()):
        found.setdefault(task, []).append(model_id)
    return found
