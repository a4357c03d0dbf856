from django import forms

from vault.photos.forms import PhotoIdsForm


class LinkForm(forms.Form):
    expiry = forms.ChoiceField(
        choices=[("day", "A day"), ("week", "A week"), ("month", "A month"), ("never", "Never")],
        initial="week",
        label="Expires after",
    )
    password = forms.CharField(
        required=False,
        max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        label="Password (optional)",
        help_text="Access control only: visitors must type it before the photos are sent. "
        "The photos are not encrypted under it; the key is in the link itself.",
    )
    allow_downloads = forms.BooleanField(required=False, label="Allow downloads")
    include_locations = forms.BooleanField(required=False, label="Include locations")


class LinkSelectionForm(PhotoIdsForm):
    pass


class UnlockForm(forms.Form):
    password = forms.CharField(max_length=200)
