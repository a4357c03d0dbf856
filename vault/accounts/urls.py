"""URLs of the account pages (namespace "accounts")."""

from django.urls import path

from vault.accounts.views import (
    login,
    passkeys,
    recovery,
    recovery_key,
    registration,
    security,
)

app_name = "accounts"

urlpatterns = [
    path("register/", registration.register, name="register"),
    path("recovery-key/", recovery_key.recovery_key, name="recovery_key"),
    path("recovery-key/new/", recovery_key.recovery_key_new, name="recovery_key_new"),
    path("recovery-key/confirm/", registration.recovery_key_confirm, name="recovery_key_confirm"),
    path("recovery-key/reissue/", registration.recovery_key_reissue, name="recovery_key_reissue"),
    path("verify-email/", registration.verify_email, name="verify_email"),
    path("login/", login.VaultLoginView.as_view(), name="login"),
    path("logout/", login.logout_view, name="logout"),
    path("security/", security.security, name="security"),
    path("security/passkeys/add/", passkeys.passkey_add, name="passkey_add"),
    path(
        "security/passkeys/add/options/",
        passkeys.passkey_register_options,
        name="passkey_register_options",
    ),
    path("security/passkeys/add/finish/", passkeys.passkey_register, name="passkey_register"),
    path(
        "security/passkeys/<int:passkey_id>/unlock/",
        passkeys.passkey_enable_unlock,
        name="passkey_unlock",
    ),
    path(
        "security/passkeys/<int:passkey_id>/rename/", passkeys.passkey_rename, name="passkey_rename"
    ),
    path(
        "security/passkeys/<int:passkey_id>/remove/", passkeys.passkey_remove, name="passkey_remove"
    ),
    path("passkey/options/", passkeys.sign_in_options, name="passkey_sign_in_options"),
    path("passkey/sign-in/", passkeys.sign_in, name="passkey_sign_in"),
    path(
        "passkey/second-factor/options/",
        passkeys.second_factor_options,
        name="passkey_second_factor_options",
    ),
    path("passkey/second-factor/", passkeys.second_factor, name="passkey_second_factor"),
    path("security/authenticator/", security.totp_add, name="totp_add"),
    path("security/<str:method>/remove/", security.method_remove, name="method_remove"),
    path("security/<str:method>/default/", security.method_make_default, name="method_default"),
    path("security/backup-codes/", security.backup_codes, name="backup_codes"),
    path("password/", security.change_password, name="password_change"),
    path("delete/", security.delete_account, name="delete"),
    path("forgot/", recovery.forgot_password, name="forgot"),
    path("recover/<str:uidb64>/<str:token>/", recovery.recover, name="recover"),
]
