from django.apps import AppConfig


class PhotosConfig(AppConfig):
    name = "vault.photos"
    label = "photos"
    verbose_name = "Photos"

    def ready(self) -> None:
        import pillow_heif
        from django.conf import settings
        from PIL import Image

        from vault.photos import receivers  # noqa: F401 - connects signal receivers

        # Pillow's own decompression-bomb guard follows the vault's pixel limit.
        Image.MAX_IMAGE_PIXELS = settings.VAULT_MAX_PIXELS
        # HEIC (the iPhone's format) for the upload checks and the worker's decoder alike.
        pillow_heif.register_heif_opener()
