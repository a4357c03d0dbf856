from django.apps import AppConfig


class AlbumsConfig(AppConfig):
    name = "vault.albums"
    label = "albums"
    verbose_name = "Albums"

    def ready(self) -> None:
        from vault.albums import hooks

        hooks.register()
