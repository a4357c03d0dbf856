"""Forms of the people pages. Ids are only checked for shape here; whose they are is the
services' business (another user's id is a 404, like one that does not exist)."""

from __future__ import annotations

import uuid

from django import forms

from vault.people.services import NAME_MAX

# More faces than one page shows; a longer list is not from our pages.
MAX_FACES_PER_REQUEST = 500


class FaceIdsField(forms.Field):
    """Face ids, repeated as `face=<uuid>`: a list of distinct UUIDs, in the order given."""

    widget = forms.MultipleHiddenInput  # reads every value of the key (QueryDict.getlist)

    default_error_messages = {
        "required": "Select one or more faces first.",
        "invalid": "That is not a face of yours.",
        "too_many": f"Select at most {MAX_FACES_PER_REQUEST} faces at once.",
    }

    def to_python(self, value):
        values = [v for v in (value or []) if v]
        if len(values) > MAX_FACES_PER_REQUEST:
            raise forms.ValidationError(self.error_messages["too_many"], code="too_many")
        try:
            return list(dict.fromkeys(uuid.UUID(str(v)) for v in values))
        except ValueError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None

    def validate(self, value):
        if self.required and not value:
            raise forms.ValidationError(self.error_messages["required"], code="required")


def _name_field() -> forms.CharField:
    return forms.CharField(
        required=False,
        max_length=NAME_MAX,
        strip=True,
        label="Name",
        error_messages={"max_length": f"Names are at most {NAME_MAX} characters."},
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class PersonNameForm(forms.Form):
    name = _name_field()


class HideForm(forms.Form):
    hidden = forms.TypedChoiceField(
        choices=[("1", "Hide"), ("0", "Show")],
        coerce=lambda value: value == "1",
        error_messages={"required": "Say whether to hide or show this person."},
    )


class PersonChoiceField(forms.UUIDField):
    default_error_messages = {
        "required": "Choose a person first.",
        "invalid": "Choose a person from the list.",
    }


class MergeForm(forms.Form):
    into = PersonChoiceField(label="Merge into")


class PersonFacesForm(forms.Form):
    """Selected faces of one person: remove them ("not this person"), mark them "not a face", or
    move them to another person."""

    ACTIONS = [("remove", "Not this person"), ("not_a_face", "Not a face"), ("move", "Move")]
    face = FaceIdsField()
    action = forms.ChoiceField(
        choices=ACTIONS, error_messages={"required": "Choose what to do with the faces."}
    )
    person = PersonChoiceField(required=False)

    def clean(self):
        data = super().clean()
        if data.get("action") == "move" and not data.get("person"):
            self.add_error("person", "Choose the person to move the faces to.")
        return data


class UnassignedFacesForm(PersonFacesForm):
    """Selected unassigned faces: a new person (optionally named), add to a person, or "not a
    face"."""

    ACTIONS = [("new", "New person"), ("move", "Add to"), ("not_a_face", "Not a face")]
    action = forms.ChoiceField(
        choices=ACTIONS, error_messages={"required": "Choose what to do with the faces."}
    )
    name = _name_field()


class FaceActionForm(UnassignedFacesForm):
    """One face, from its own page: any of the above, or "not this person" for its person."""

    ACTIONS = [
        ("move", "Move"),
        ("new", "New person"),
        ("remove", "Not this person"),
        ("not_a_face", "Not a face"),
    ]
    face = None
    action = forms.ChoiceField(
        choices=ACTIONS, error_messages={"required": "Choose what to do with the face."}
    )


class ReviewForm(forms.Form):
    """ "Is this NAME?": yes or no for one face or many."""

    face = FaceIdsField()
    action = forms.ChoiceField(
        choices=[("confirm", "Yes"), ("reject", "No")],
        error_messages={"required": "Answer yes or no."},
    )
