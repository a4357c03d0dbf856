from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("photos", "0003_tagging"),
    ]

    operations = [
        migrations.AddField(
            model_name="photo",
            name="animated",
            field=models.BooleanField(default=False),
        ),
    ]
