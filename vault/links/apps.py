from django.apps import AppConfig


class LinksConfig(AppConfig):
    name = "vault.links"
    label = "links"
    verbose_name = "Share links"

    def ready(self) -> None:
        from vault.links import hooks, receivers  # noqa: F401 - receivers: the trash signal

        hooks.register()
