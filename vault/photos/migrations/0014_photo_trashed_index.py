from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("photos", "0013_blob_motion_variant"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="photo",
            index=models.Index(
                condition=models.Q(("trashed_at__isnull", False)),
                fields=["owner", "trashed_at"],
                name="photo_trashed",
            ),
        ),
    ]
