"""The owner's corrections, posted from the people pages (each works without JavaScript).
Every view looks its object up with the owner first — another user's id is a 404 for any
method — and sends anything but a POST back to the page it belongs to."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache

from vault.accounts.decorators import keyring_required
from vault.people import merges, selectors, services
from vault.people.forms import (
    FaceActionForm,
    HideForm,
    MergeForm,
    PersonFacesForm,
    PersonNameForm,
    ReviewForm,
    UnassignedFacesForm,
)
from vault.people.models import Face, Person
from vault.people.sealing import name_open
from vault.people.services import PeopleChangeRefused
from vault.people.views.forwarding import forwards_merged

# The session remembers the owner's last merge, so that the person page it leads to offers
# to undo it (the message that follows the merge).
UNDO_SESSION_KEY = "people_merge_undo"


def _faces(count: int) -> str:
    return f"{count} face{'s' if count != 1 else ''}"


def _first_upper(text: str) -> str:
    """The text with its first letter made upper case and the rest kept ("Rose Leslie", never
    str.capitalize()'s "Rose leslie": names keep their case)."""
    return text[:1].upper() + text[1:]


def _first_error(form) -> str:
    for errors in form.errors.values():
        return errors[0]
    return "Something in the form is missing."


def _person_url(person_id) -> str:
    return reverse("people:detail", args=[person_id])


def _label(request, person) -> str:
    return name_open(request.keyring.metadata_key, person) or "this unnamed group"


@keyring_required
@forwards_merged
def person_rename(request, person_id):
    person = selectors.person_of_owner(user=request.user, person_id=person_id)
    back = redirect(_person_url(person.id))
    if request.method != "POST":
        return back
    form = PersonNameForm(request.POST)
    if not form.is_valid():
        messages.error(request, _first_error(form))
        return back
    name = form.cleaned_data["name"]
    try:
        services.person_rename(
            user=request.user,
            metadata_key=request.keyring.metadata_key,
            person_id=person.id,
            name=name,
        )
    except PeopleChangeRefused as refused:
        messages.error(request, str(refused))
        return back
    messages.success(request, f"Named {name}." if name else "The name is removed.")
    alike = selectors.people_named_alike(
        user=request.user, metadata_key=request.keyring.metadata_key, name=name, exclude=person.id
    )
    if alike:  # the person page offers to merge them
        return redirect(f"{_person_url(person.id)}?same={alike[0].id}")
    return back


@keyring_required
@forwards_merged
def person_hide(request, person_id):
    person = selectors.person_of_owner(user=request.user, person_id=person_id)
    if request.method != "POST":
        return redirect(_person_url(person.id))
    form = HideForm(request.POST)
    if not form.is_valid():
        messages.error(request, _first_error(form))
        return redirect(_person_url(person.id))
    hidden = form.cleaned_data["hidden"]
    services.person_hide(user=request.user, person_id=person.id, hidden=hidden)
    if hidden:
        messages.success(request, "Hidden from the people page. Show hidden people to undo.")
        return redirect("people:list")
    messages.success(request, "Shown on the people page again.")
    return redirect(_person_url(person.id))


@never_cache
@keyring_required
@forwards_merged
def person_merge(request, person_id):
    """Merge this person into the chosen one (`into`): a first POST asks for confirmation, the
    confirmed one merges and leads to the merged person, whose page offers the undo."""
    person = selectors.person_of_owner(user=request.user, person_id=person_id)
    back = redirect(_person_url(person.id))
    if request.method != "POST":
        return back
    form = MergeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _first_error(form))
        return back
    key = request.keyring.metadata_key
    into = form.cleaned_data["into"]
    target = Person.objects.filter(owner=request.user, pk=into).first()
    if target is None:
        target = merges.person_forwarded(user=request.user, person_id=into)
        if target is None:
            selectors.person_of_owner(user=request.user, person_id=into)  # the plain 404
    if target.pk == person.pk:
        messages.error(request, "Choose another person to merge with.")
        return back
    if request.POST.get("confirm") != "1":
        source, into_card = selectors.person_cards(people=[person, target], metadata_key=key)
        return render(request, "people/merge_confirm.html", {"source": source, "target": into_card})
    try:
        merged = services.person_merge(
            user=request.user, metadata_key=key, target_id=target.id, source_ids=[person.id]
        )
    except PeopleChangeRefused as refused:
        messages.error(request, str(refused))
        return back
    now = Face.objects.filter(person=merged, not_a_face=False).count()
    messages.success(
        request,
        f"Merged into {_label(request, merged)}: {_faces(merged.moved_faces)} moved, "
        f"{_faces(now)} in all.",
    )
    request.session[UNDO_SESSION_KEY] = str(merged.merge.id)
    return redirect(_person_url(merged.id))


@keyring_required
def merge_undo(request, merge_id):
    """Undo one of the owner's merges (another user's merge id is a 404)."""
    merge = merges.merge_of_owner(user=request.user, merge_id=merge_id)
    if merge is None:
        raise Http404("No such merge")
    back = redirect(_person_url(merge.target_id))
    if request.method != "POST":
        return back
    try:
        restored = merges.person_merge_undo(
            user=request.user, metadata_key=request.keyring.metadata_key, merge_id=merge.id
        )
    except merges.MergeUndoRefused as refused:
        messages.error(request, str(refused))
        return redirect(_person_or_list(request, merge.target_id))
    request.session.pop(UNDO_SESSION_KEY, None)
    names = ", ".join(_label(request, p) for p in restored) or "the merged people"
    messages.success(request, f"Merge undone: {names} {'is' if len(restored) < 2 else 'are'} back.")
    if restored:
        return redirect(_person_url(restored[0].id))
    return redirect(_person_or_list(request, merge.target_id))


def _faces_change(request, form, *, person=None):
    """Carry out a faces form's action; returns (message, person to show next or None)."""
    data = form.cleaned_data
    faces, action = data.get("face"), data["action"]
    user, key = request.user, request.keyring.metadata_key
    if action == "move":
        target = selectors.person_of_owner(user=user, person_id=data["person"])
        services.face_move(user=user, face_ids=faces, person_id=target.id)
        return f"Moved {_faces(len(faces))} to {_label(request, target)}.", target
    if action == "new":
        created = services.person_create_from_faces(
            user=user, metadata_key=key, face_ids=faces, name=data.get("name") or ""
        )
        return f"{_first_upper(_label(request, created))} now has {_faces(len(faces))}.", created
    if action == "not_a_face":
        count = services.faces_not_a_face(user=user, face_ids=faces)
        return f"{_first_upper(_faces(count))} marked as not a face.", person
    count = services.faces_remove(user=user, person_id=person.id, face_ids=faces)
    return (
        f"{_first_upper(_faces(count))} removed: they will not be put back into "
        f"{_label(request, person)}.",
        person,
    )


def _person_or_list(request, person_id) -> str:
    if Person.objects.filter(owner=request.user, pk=person_id).exists():
        return _person_url(person_id)
    return reverse("people:list")


@keyring_required
@forwards_merged
def person_faces(request, person_id):
    """Selected faces of this person: not this person, not a face, or move to another."""
    person = selectors.person_of_owner(user=request.user, person_id=person_id)
    if request.method != "POST":
        return redirect(_person_url(person.id))
    form = PersonFacesForm(request.POST)
    if not form.is_valid():
        selectors.faces_check_owner(user=request.user, face_ids=form.cleaned_data.get("face"))
        messages.error(request, _first_error(form))
        return redirect(_person_url(person.id))
    try:
        text, _shown = _faces_change(request, form, person=person)
    except PeopleChangeRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, text)
    # The person may be gone (its last face moved out of an unnamed group).
    return redirect(_person_or_list(request, person.id))


@keyring_required
@forwards_merged
def person_review(request, person_id):
    """ "Is this NAME?" answered for the selected faces (or the one whose button was pressed)."""
    person = selectors.person_of_owner(user=request.user, person_id=person_id)
    back = redirect(_person_url(person.id))
    if request.method != "POST":
        return back
    form = ReviewForm(request.POST)
    if not form.is_valid():
        selectors.faces_check_owner(user=request.user, face_ids=form.cleaned_data.get("face"))
        messages.error(request, _first_error(form))
        return back
    faces = form.cleaned_data["face"]
    name = _label(request, person)
    try:
        if form.cleaned_data["action"] == "confirm":
            services.review_confirm(user=request.user, person_id=person.id, face_ids=faces)
            messages.success(request, f"Added {_faces(len(faces))} to {name}.")
        else:
            services.review_reject(user=request.user, person_id=person.id, face_ids=faces)
            messages.success(
                request, f"{_first_upper(_faces(len(faces)))} will not be offered as {name} again."
            )
    except PeopleChangeRefused as refused:
        messages.error(request, str(refused))
    return back


@keyring_required
def faces_bulk(request):
    """Selected unassigned faces (people page): a new person, add to a person, not a face."""
    if request.method != "POST":
        return redirect("people:list")
    form = UnassignedFacesForm(request.POST)
    if not form.is_valid():
        # Another user's ids are refused whole (404) before anything is said about the form.
        selectors.faces_check_owner(user=request.user, face_ids=form.cleaned_data.get("face"))
        messages.error(request, _first_error(form))
        return redirect("people:list")
    try:
        text, shown = _faces_change(request, form)
    except PeopleChangeRefused as refused:
        messages.error(request, str(refused))
        return redirect("people:list")
    messages.success(request, text)
    return redirect(_person_url(shown.id)) if shown is not None else redirect("people:list")


@keyring_required
def face_action(request, face_id):
    """One face, from its own page."""
    face = selectors.face_of_owner(user=request.user, face_id=face_id)
    back = reverse("people:face", args=[face.id])
    if request.method != "POST":
        return redirect(back)
    form = FaceActionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _first_error(form))
        return redirect(back)
    form.cleaned_data["face"] = [face.id]
    if form.cleaned_data["action"] == "remove" and face.person is None:
        messages.info(request, "This face is in no person.")
        return redirect(back)
    try:
        text, shown = _faces_change(request, form, person=face.person)
    except PeopleChangeRefused as refused:
        messages.error(request, str(refused))
        return redirect(back)
    messages.success(request, text)
    return redirect(_person_or_list(request, shown.id) if shown is not None else back)
