"""Signals other apps listen to."""

from django.dispatch import Signal

# Sent by accounts.services.account_delete after the user's wrapped keys are destroyed and
# before the user row is deleted: receivers remove the user's blobs from disk.
# Arguments: user.
account_keys_destroyed = Signal()
