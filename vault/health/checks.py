"""Django system checks for what the appliance needs from its model files, so that
`manage.py check --deploy` (run by the installer) fails on a bad card before users notice."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core import checks

from vault import modelcards

# Tasks whose active model the pipeline needs: tags, then faces (detector and embedder).
REQUIRED_TASKS = ("tagger", "face_detector", "face_embedder")


@checks.register("vault", deploy=True)
def model_cards_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    models_dir = Path(settings.VAULT_MODELS_DIR)
    errors: list[checks.CheckMessage] = []
    for row in modelcards.cards_scan(models_dir):
        if not row.ok:
            errors.append(
                checks.Error(
                    f"model card {row.card_file}: {row.error}",
                    hint="Restore the model file, or fix or remove its card (docs/model-cards.md).",
                    id="vault.E001",
                )
            )
    for task in REQUIRED_TASKS:
        try:
            modelcards.active_card(models_dir, task)
        except modelcards.CardError as error:
            errors.append(
                checks.Error(
                    f"no usable {task}: {error}",
                    hint=f"Mark exactly one valid {task} card in {models_dir} as active.",
                    id="vault.E002",
                )
            )
    return errors


@checks.register("vault", deploy=True)
def worker_enrolment_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Workers on other hosts cannot share SECRET_KEY, the one-box stand-in for the worker
    enrolment secret: a deployment sets the secret itself."""
    if settings.VAULT_WORKER_ENROLMENT_FROM_SECRET_KEY:
        return [
            checks.Warning(
                "VAULT_WORKER_ENROLMENT_SECRET is not set: worker keys are enrolled with a "
                "secret derived from SECRET_KEY, which only workers on this machine hold.",
                hint="Set VAULT_WORKER_ENROLMENT_SECRET_FILE (the Ansible play does).",
                id="vault.W001",
            )
        ]
    return []
