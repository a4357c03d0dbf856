from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "vault.health"
    label = "health"
    verbose_name = "Health and self-tests"
