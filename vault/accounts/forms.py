"""Forms of the account pages. Passwords stay in cleaned_data for the request only."""

from __future__ import annotations

import secrets

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm

from vault.accounts import code_checks, throttle
from vault.accounts.backends import unlocked_keys_take
from vault.accounts.models import User
from vault.accounts.services import email_taken
from vault.crypto import RecoveryKeyFormatError, recovery


class RegisterForm(forms.Form):
    name = forms.CharField(max_length=150, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_email(self):
        email = self.cleaned_data["email"].strip()
        if email_taken(email):
            raise forms.ValidationError(
                "An account with this email already exists. Sign in, or use “Forgot password”."
            )
        return email

    def clean(self):
        data = super().clean()
        p1, p2 = data.get("password1"), data.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", "The two passwords differ.")
        elif p1 and data.get("email"):
            try:
                password_validation.validate_password(
                    p1, User(name=data.get("name", ""), email=data["email"])
                )
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return data


def pick_check_positions(group_count: int) -> list[int]:
    """Two different groups (1-based) of the recovery key the user must type back."""
    first = secrets.randbelow(group_count) + 1
    second = secrets.randbelow(group_count - 1) + 1
    if second >= first:
        second += 1
    return sorted([first, second])


class RecoveryCheckForm(forms.Form):
    """The user types back two groups of the key, proving it was written down."""

    first = forms.CharField(max_length=16)
    second = forms.CharField(max_length=16)

    def __init__(self, *args, positions: list[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.positions = positions
        self.fields["first"].label = f"Group {positions[0]}"
        self.fields["second"].label = f"Group {positions[1]}"

    def groups(self) -> list[str]:
        return [self.cleaned_data[name].strip().upper() for name in ("first", "second")]


class VaultAuthenticationForm(AuthenticationForm):
    """Password step: throttled; on success `unlocked` holds the keys the backend unwrapped
    while checking the password (one Argon2id, vault.accounts.backends)."""

    username = forms.EmailField(
        label="Email",
        # "webauthn": browsers then offer saved passkeys in the field's autofill.
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email webauthn"}),
    )
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That email and password do not match an account.",
    }

    def clean(self):
        email = self.cleaned_data.get("username") or ""
        subject = throttle.Subject.for_request(self.request, scope="password", email=email)
        wait = throttle.seconds_locked(subject)
        if wait:
            raise forms.ValidationError(throttle.wait_message(wait), code="throttled")
        try:
            super().clean()
        except forms.ValidationError:
            throttle.record_failure(subject)
            raise
        if self.user_cache is None:  # a field was invalid and says so itself
            return self.cleaned_data
        self.unlocked = unlocked_keys_take(self.user_cache)
        if self.unlocked is None:
            # Only KeyWrapBackend signs in, and it always unlocks the keys; anything else
            # is a misconfiguration. Say so without detail.
            throttle.record_failure(subject)
            raise forms.ValidationError(
                "Your keys could not be unlocked. Contact the operator of this vault.",
                code="keys_unavailable",
            )
        return self.cleaned_data


class CodeThrottleMixin:
    """Mixed into django-two-factor's token forms: per-account and per-address delays on top
    of django-otp's per-device back-off, without the two adding up (vault.accounts.code_checks):
    only a code that was checked and wrong is counted, and every wait is said in seconds."""

    def clean(self):
        error = code_checks.code_wait_error(
            self.request, user=self.user, device=self._chosen_device(self.user)
        )
        if error:
            raise forms.ValidationError(error, code="throttled")
        try:
            return super().clean()
        except forms.ValidationError as error:
            if error.code == "invalid_token":
                code_checks.code_record_wrong(self.request, user=self.user)
            raise


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=16,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class AuthenticatorAddForm(CodeForm):
    make_default = forms.ChoiceField(
        label="Ask for a code from this app first when you sign in?",
        choices=[
            ("yes", "Yes, make the app my default sign-in method"),
            ("no", "No, keep emailed codes first and offer the app as another way"),
        ],
        initial="yes",
        required=False,  # a form sent without the question keeps the old answer: yes
        widget=forms.RadioSelect,
    )


def check_new_password(form: forms.Form, data: dict) -> None:
    """The two new-password fields match and pass Django's validators for form.user."""
    if data.get("new1") and data.get("new2") and data["new1"] != data["new2"]:
        form.add_error("new2", "The two passwords differ.")
    elif data.get("new1"):
        try:
            password_validation.validate_password(data["new1"], form.user)
        except forms.ValidationError as error:
            form.add_error("new1", error)


class PasswordChangeForm(forms.Form):
    current = forms.CharField(
        label="Current password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    new1 = forms.CharField(
        label="New password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    new2 = forms.CharField(
        label="New password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean(self):
        data = super().clean()
        check_new_password(self, data)
        if data.get("current") and not self.user.check_password(data["current"]):
            self.add_error("current", "That is not your current password.")
        return data


class ForgotPasswordForm(forms.Form):
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email"}))


class RecoverForm(forms.Form):
    code = forms.CharField(
        label="Sign-in code",
        max_length=16,
        help_text="From your authenticator app, a code we email you, or one of your backup codes.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}),
    )
    recovery_key = forms.CharField(
        label="Recovery key",
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    new1 = PasswordChangeForm.base_fields["new1"]
    new2 = PasswordChangeForm.base_fields["new2"]
    understand = forms.BooleanField(
        required=False,
        label="I understand that my old photos will be deleted and cannot be recovered.",
    )

    def __init__(self, *args, user: User, start_over: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.start_over = start_over
        if start_over:
            self.fields["recovery_key"].required = False

    def clean_recovery_key(self):
        text = self.cleaned_data["recovery_key"]
        if self.start_over and not text:
            return text
        try:
            recovery.parse_recovery_key(text)
        except RecoveryKeyFormatError as error:
            raise forms.ValidationError(str(error)) from None
        return text

    def clean(self):
        data = super().clean()
        check_new_password(self, data)
        if self.start_over and not data.get("understand"):
            self.add_error("understand", "Tick this box to start over with an empty vault.")
        return data


class DeleteAccountForm(forms.Form):
    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    confirm = forms.CharField(label="Type DELETE to confirm", max_length=10)

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self):
        if not self.user.check_password(self.cleaned_data["password"]):
            raise forms.ValidationError("That is not your password.")
        return self.cleaned_data["password"]

    def clean_confirm(self):
        if self.cleaned_data["confirm"].strip() != "DELETE":
            raise forms.ValidationError("Type DELETE, in capitals, to confirm.")
        return self.cleaned_data["confirm"]


class PasskeyConfirmForm(forms.Form):
    """Adding a passkey asks for the password and a code again: a passkey is a way in."""

    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    code = forms.CharField(
        label="Code",
        max_length=32,
        help_text="From your authenticator app, an emailed code, or a backup code.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self):
        if not self.user.check_password(self.cleaned_data["password"]):
            raise forms.ValidationError("That is not your password.")
        return self.cleaned_data["password"]
