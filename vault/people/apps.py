from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "vault.people"
    label = "people"
    verbose_name = "People"

    def ready(self) -> None:
        from vault.people import hooks

        hooks.register()
