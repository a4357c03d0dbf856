"""Forms of the photo pages: the gallery filter (kept in the URL), photo id lists, and tag
corrections."""

from __future__ import annotations

import uuid

from django import forms

from vault.photos.models import Tag

# More than there are labels; a longer list in a URL is someone else's doing.
MAX_TAGS_IN_FILTER = 12


class TagsFilterField(forms.MultipleChoiceField):
    """Labels to filter by. Unknown values are dropped (the form says so) instead of failing
    the field: one stale or mistyped label in a bookmark must not lose the others."""

    def validate(self, value):
        pass  # the form's clean_tag sorts the known from the unknown


class GalleryFilterForm(forms.Form):
    label_suffix = ""
    tag = TagsFilterField(choices=Tag.Label.choices, required=False, label="Tags")
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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ignored_tags: list[str] = []

    def clean_tag(self):
        asked = self.cleaned_data.get("tag") or []
        known = [label for label in Tag.Label.values if label in asked]
        self.ignored_tags = [value for value in asked if value not in Tag.Label.values]
        return known  # in the labels' own order, so equal filters give equal URLs

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if end and end.year >= 9999:  # the day after it does not exist
            self.add_error("date_to", "Enter a date before the year 9999.")
        if start and end and start > end:
            # Neither date filters until the range is fixed: the start alone would look like
            # an answer to what was asked (issue 24.7).
            self.add_error("date_to", "The end date is before the start date.")
            self.add_error("date_from", "Dates are not applied until the range is fixed.")
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
        try:
            return list(dict.fromkeys(uuid.UUID(value) for value in self.cleaned_data["photo"]))
        except ValueError:
            raise forms.ValidationError("That is not a photo of yours.") from None


class TagChangeForm(forms.Form):
    """One correction: the label is (add) or is not (remove) on the photo(s)."""

    label = forms.ChoiceField(choices=Tag.Label.choices)
    action = forms.ChoiceField(choices=[("add", "Add"), ("remove", "Remove")])

    @property
    def present(self) -> bool:
        return self.cleaned_data["action"] == "add"


class TagsBulkForm(PhotoIdsForm, TagChangeForm):
    """A correction for every selected photo in the gallery."""
