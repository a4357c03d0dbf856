"""Users and their wrapped keys (DESIGN §4). Nothing here decrypts without the owner's login."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower
from django_otp.models import Device


class VaultUserManager(UserManager):
    def get_by_natural_key(self, username):
        # Emails are matched without regard to case, so "Ann@x" and "ann@x" are one account.
        return self.get(email__iexact=username)

    def _create_user_object(self, username, email, password, **extra_fields):
        # create_user()/createsuperuser make a Django user without keys, which can never sign
        # in here (vault.accounts.services.account_register makes real accounts); it gets no
        # password hash either, so nothing in the database verifies a password but the key wrap.
        return super()._create_user_object(username, email, None, **extra_fields)


class User(AbstractUser):
    """A person with a vault. Signs in with email; `username` is kept equal to it for Django."""

    name = models.CharField(max_length=150)
    email = models.EmailField("email address", unique=True)
    email_verified = models.BooleanField(default=False)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = ["name"]
    objects = VaultUserManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    def save(self, *args, **kwargs):
        self.email = self.email.strip()
        self.username = self.email.lower()
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        return self.email

    # The `password` column holds only Django's unusable marker (DESIGN §4): the password is
    # verified by unwrapping the master key, and set through the services that re-wrap it.

    def check_password(self, raw_password) -> bool:
        from vault.accounts.services import password_matches  # the services import this module

        return (
            self.pk is not None
            and raw_password is not None
            and password_matches(self, raw_password)
        )

    async def acheck_password(self, raw_password) -> bool:
        return await sync_to_async(self.check_password)(raw_password)

    def set_password(self, raw_password):
        raise NotImplementedError(
            "A password here is the key wrap of the master key: change it with "
            "vault.accounts.services.password_change or account_recover."
        )


class UserKeys(models.Model):
    """The user's key material, only ever wrapped.

    umk_password_wrap: UMK under Argon2id(password) (vault.crypto.password), parameters inside.
    umk_recovery_wrap: UMK under HKDF(recovery key) (vault.crypto.recovery); a new key
    replaces it, so the old key stops working.
    wrapped_private_key: sk_U under UMK. public_key: pk_U in the clear, so uploads can be
    encrypted to the owner without any secret.
    """

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="keys")
    public_key = models.BinaryField()
    wrapped_private_key = models.BinaryField()
    umk_password_wrap = models.BinaryField()
    umk_recovery_wrap = models.BinaryField()
    # When the owner last typed back groups of the key that umk_recovery_wrap opens; null until
    # then (a key closed unread, or accounts from before this was recorded): every page then
    # leads back to the recovery key (issue 24.3).
    recovery_key_confirmed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"keys of user {self.user_id}"


class Passkey(Device):
    """A WebAuthn credential of the user (DESIGN §13), a django-otp device so that a sign-in
    with it marks the session verified like any second factor, and removing it ends that.

    `name` (django-otp's) stays "passkey" so it can never be the "default" code device;
    the owner's name for it is `label`. `credential_data` is the AttestedCredentialData
    (AAGUID, id, COSE public key) as python-fido2 parses it. With the PRF extension,
    `umk_wrap` is UMK under KEK_pk (vault.crypto.passkey) and `prf_salt` its HKDF salt;
    both empty when the authenticator has no PRF (then it is only a second factor).
    """

    credential_id = models.BinaryField(unique=True)
    credential_data = models.BinaryField()
    sign_count = models.PositiveBigIntegerField(default=0)
    label = models.CharField(max_length=64)
    prf_salt = models.BinaryField(null=True, blank=True)
    umk_wrap = models.BinaryField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # When an assertion came with a signature counter lower than one already seen: a sign of
    # a copied authenticator. Shown on the security page until the passkey is removed.
    counter_went_back_at = models.DateTimeField(null=True, blank=True)

    @property
    def unlocks_vault(self) -> bool:
        return bool(self.umk_wrap)

    def verify_token(self, token) -> bool:
        return False  # never a typed code: only an assertion (vault.accounts.passkeys) passes

    def __str__(self) -> str:
        return f"passkey {self.pk} of user {self.user_id}"
