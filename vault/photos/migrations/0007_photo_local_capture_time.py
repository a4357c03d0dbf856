"""The local time a photo was taken (what the camera's clock showed) beside the instant: the
gallery shows, groups and filters by it, and still sorts by the instant.

Existing rows get the wall-clock time they were shown at until now (shown_at in TIME_ZONE),
with no offset: the offset a camera wrote is inside the encrypted original, which a migration
cannot read. The worker fills both when it reads the photo's metadata again."""

from django.conf import settings
from django.db import migrations, models

import vault.photos.fields
import vault.photos.models


def backfill_wall_clock(apps, schema_editor):
    schema_editor.execute(
        "UPDATE photos_photo SET shown_local = shown_at AT TIME ZONE %s",
        [settings.TIME_ZONE],
    )


class Migration(migrations.Migration):
    dependencies = [
        ("photos", "0006_photo_faces_by"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="photo",
            name="shown_local",
            field=vault.photos.fields.WallClockField(default=vault.photos.models.wall_clock_now),
        ),
        migrations.AddField(
            model_name="photo",
            name="taken_offset",
            field=models.SmallIntegerField(null=True),
        ),
        migrations.RunPython(backfill_wall_clock, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="photo",
            index=models.Index(fields=["owner", "shown_local"], name="photo_local_date"),
        ),
    ]
