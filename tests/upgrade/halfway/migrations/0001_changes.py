"""Changes a migration of a new release might make: a vault table gets a column, rows change,
a new table appears. Applies cleanly (and Django alone would keep it applied)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("photos", "__latest__"), ("accounts", "__latest__")]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE photos_photo ADD COLUMN halfway_note text",
            "ALTER TABLE photos_photo DROP COLUMN halfway_note",
        ),
        migrations.RunSQL("UPDATE photos_photo SET state = 'failed', failure_reason = 'halfway'"),
        migrations.CreateModel(
            name="Note",
            fields=[("id", models.BigAutoField(primary_key=True)), ("text", models.TextField())],
        ),
    ]
