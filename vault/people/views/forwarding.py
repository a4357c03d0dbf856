"""A person another tab merged away: say where it went instead of a bare "Page not found"
(issue 24, item 6). Only the owner's own merged ids forward; any other id stays a plain 404."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse

from vault.people import merges
from vault.people.models import Person
from vault.people.sealing import name_open


def forwards_merged(view):
    """For a view taking `person_id` (under keyring_required): when the id is one of the
    owner's people merged into another, go to that person's page and say so; a change the
    stale page asked for is not made."""

    @wraps(view)
    def wrapper(request, person_id, *args, **kwargs):
        if not Person.objects.filter(owner=request.user, pk=person_id).exists():
            target = merges.person_forwarded(user=request.user, person_id=person_id)
            if target is not None:
                name = name_open(request.keyring.metadata_key, target) or "an unnamed group"
                text = f"This person was merged into {name}."
                if request.method == "POST":
                    text += " Nothing was changed: check the person it became."
                messages.info(request, text)
                return redirect(reverse("people:detail", args=[target.id]))
        return view(request, person_id, *args, **kwargs)

    return wrapper
