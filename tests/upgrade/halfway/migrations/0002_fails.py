"""Fails half-way: its first operation changes every account's email, the second raises."""

from django.db import migrations


def fail(apps, schema_editor):
    raise RuntimeError("forced failure half-way through the upgrade")


class Migration(migrations.Migration):
    dependencies = [("halfway", "0001_changes")]

    operations = [
        migrations.RunSQL("UPDATE accounts_user SET email = 'halfway-' || email"),
        migrations.RunPython(fail),
    ]
