"""The album page filters by person like the gallery (issue 19): the viewer's own people, as
chips counted within the album; a member never sees the owner's people, and the owner's person
id in a member's URL finds nothing of theirs."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.albums.conftest import keyring_for
from tests.people import synthetic
from tests.users import PASSWORD
from vault.albums import services

pytestmark = pytest.mark.django_db

ANA = "Ana Quxley"


def _chips(page: str) -> str:
    start = page.index('data-options="person"')
    return page[start : page.index("</ul>", start)]


def test_the_album_filters_by_the_owners_person_and_hides_them_from_a_member(
    owner, owner_client, album, owner_photos, member, member_client
):
    ring = keyring_for(owner, PASSWORD)
    mk = ring.metadata_key
    in_album, private = owner_photos[0], owner_photos[2]
    ana = synthetic.person_row(owner, mk, name=ANA)
    for photo in (in_album, private):
        synthetic.face_row(owner, photo, mk, synthetic.look(1, 0), person=ana)
    services.album_member_add(album=album, keyring=ring, email=member.email, role="viewer")
    url = reverse("albums:detail", args=[album.id])

    page = owner_client.get(url).content.decode()
    # Counted within the album: the private photo with Ana's face is not in it.
    assert f'{ANA} <span class="chip-count">1</span>' in _chips(page)
    narrowed = owner_client.get(f"{url}?person={ana.id}").content.decode()
    assert str(in_album.id) in narrowed and str(owner_photos[1].id) not in narrowed
    assert f'data-person="{ana.id}" href="{url}" aria-current="true"' in _chips(narrowed)

    seen = member_client.get(url).content.decode()
    assert ANA not in seen and 'data-options="person"' not in seen
    probing = member_client.get(f"{url}?person={ana.id}").content.decode()
    assert ANA not in probing
    assert "No person of yours has this id, so no photo matches." in probing
    assert str(in_album.id) not in probing
