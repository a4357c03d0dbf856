"""Replace every Django password hash by an unusable marker (DESIGN §4).

Safe for everyone: since vault.accounts.backends.KeyWrapBackend, the password is verified only by
unwrapping the master key, and nothing reads this column. Doing it here rather than at each
account's next sign-in closes the cheaper oracle at once, dormant accounts included. Side
effects: every session ends (Django's session hash is made from this column) and unused
password-reset links stop working. Not reversible: the hashes are gone on purpose.
"""

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX, make_password
from django.db import migrations


def drop_password_hashes(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    users = list(User.objects.exclude(password__startswith=UNUSABLE_PASSWORD_PREFIX).only("pk"))
    for user in users:
        user.password = make_password(None)  # a random marker per account, like the services
    User.objects.bulk_update(users, ["password"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(drop_password_hashes, migrations.RunPython.noop)]
