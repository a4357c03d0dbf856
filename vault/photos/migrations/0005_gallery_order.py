"""The gallery's order gains the upload time between the capture time and the id: photos taken
in the same instant keep their upload order instead of the random order of their ids."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("photos", "0004_photo_animated"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="photo",
            options={"ordering": ["-shown_at", "-uploaded_at", "-id"]},
        ),
        migrations.RemoveIndex(
            model_name="photo",
            name="photo_gallery",
        ),
        migrations.AddIndex(
            model_name="photo",
            index=models.Index(
                fields=["owner", "-shown_at", "-uploaded_at", "-id"], name="photo_gallery"
            ),
        ),
    ]
