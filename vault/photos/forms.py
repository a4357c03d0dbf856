"""Forms of the photo pages: the gallery filter (kept in the URL) and photo id lists."""

from __future__ import annotations

from django import forms

from vault.photos.models import Tag


class GalleryFilterForm(forms.Form):
    label_suffix = ""
    tag = forms.ChoiceField(
        choices=[("", "All tags"), *Tag.Label.choices], required=False, label="Tag"
    )
    date_from = forms.DateField(
        required=False,
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter a date like 2024-05-31."},
    )
    date_to = forms.DateField(
        required=False,
        label="To",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter a date like 2024-05-31."},
    )

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if end and end.year >= 9999:  # the day after it does not exist
            self.add_error("date_to", "Enter a date before the year 9999.")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return data

    def filters(self) -> dict:
        """The valid filters only: a bad field is reported and ignored, never a 500."""
        if not self.is_bound:
            return {}
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            key: data[key]
            for key in ("tag", "date_from", "date_to")
            if data.get(key) and key not in self.errors
        }


class PhotoIdsForm(forms.Form):
    photo = forms.TypedMultipleChoiceField(required=True, coerce=str)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Any well-formed id is a choice; ownership is checked by the view (404 otherwise).
        self.fields["photo"].valid_value = lambda value: True

    def clean_photo(self):
        import uuid

        try:
            return list(dict.fromkeys(uuid.UUID(value) for value in self.cleaned_data["photo"]))
        except ValueError:
            raise forms.ValidationError("That is not a photo of yours.") from None
