"""Forms of the album pages."""

from __future__ import annotations

from django import forms

from vault.albums.models import AlbumMember
from vault.albums.services import DESCRIPTION_LIMIT, NAME_LIMIT


class AlbumForm(forms.Form):
    name = forms.CharField(max_length=NAME_LIMIT, strip=True)
    description = forms.CharField(
        max_length=DESCRIPTION_LIMIT,
        required=False,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    include_locations = forms.BooleanField(
        required=False, label="Members see where each photo was taken"
    )


class MemberForm(forms.Form):
    email = forms.EmailField(label="Their email")
    role = forms.ChoiceField(
        choices=[
            (AlbumMember.Role.VIEWER, "Viewer: sees the photos"),
            (AlbumMember.Role.CONTRIBUTOR, "Contributor: also adds their own"),
        ],
        initial=AlbumMember.Role.VIEWER,
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(
        choices=[(AlbumMember.Role.VIEWER, "Viewer"), (AlbumMember.Role.CONTRIBUTOR, "Contributor")]
    )


class PartnerForm(forms.Form):
    email = forms.EmailField(label="Their email")
