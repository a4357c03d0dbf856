from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("photos", "0005_gallery_order"),
    ]

    operations = [
        migrations.AddField(
            model_name="photo",
            name="faces_by",
            field=models.CharField(blank=True, default="", max_length=120),
        ),
        migrations.AlterField(
            model_name="photo",
            name="state",
            field=models.CharField(
                choices=[
                    ("pending", "Queued for processing"),
                    ("processing", "Processing"),
                    ("ready", "Ready"),
                    ("failed", "Failed"),
                ],
                default="pending",
                max_length=16,
            ),
        ),
    ]
