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
