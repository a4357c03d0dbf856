"""`manage.py models`: every model card in VAULT_MODELS_DIR, the active model per task, and
whether each file matches the sha256 in its card. Exits non-zero when something is wrong."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from vault import modelcards


class Command(BaseCommand):
    help = "List the model cards, the active model per task, and whether each file matches."

    def handle(self, *args, **options):
        models_dir = Path(settings.VAULT_MODELS_DIR)
        rows = modelcards.cards_scan(models_dir)
        self.stdout.write(f"models in {models_dir}:")
        if not rows:
            self.stdout.write("  (no model cards)")
        for row in rows:
            card = row.card
            task = card.task if card else "?"
            model = card.model_id if card else "-"
            active = "active" if card and card.active else ""
            state = "ok" if row.ok else f"BAD: {row.error}"
            self.stdout.write(f"  {row.card_file:<36} {task:<14} {model:<44} {active:<6} {state}")
        problems = [row for row in rows if not row.ok]
        for task in sorted({row.card.task for row in rows if row.card} | {"tagger"}):
            try:
                active = modelcards.active_card(models_dir, task).model_id
            except modelcards.CardError as error:
                self.stdout.write(f"active {task}: none usable ({error})")
                problems.append(task)
            else:
                self.stdout.write(f"active {task}: {active}")
        if problems:
            raise CommandError(f"{len(problems)} problem(s) with the model files")
