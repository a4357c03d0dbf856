from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "vault.health"
    label = "health"
    verbose_name = "Health and self-tests"

    def ready(self) -> None:
        from vault.health import checks  # noqa: F401 - registers the system checks
