"""The lock order of every write to People's rows, in the web and in the worker alike.

Inside a transaction, row locks (SELECT … FOR UPDATE) are taken in this order, and never the
other way round, so that no two writers wait on each other:

1. the photo (`photo_lock`): the face-finding step, before it replaces the photo's faces. The
   tag service (vault/photos/tagging.py) locks the photo too, so a transaction that already
   holds people or faces never calls it: the "human" tag that faces give is refreshed after
   the commit (services._human_tags_refresh).
2. the owner's people, in id order (`people_locked`): the owner's corrections
   (vault/people/services.py) and the clustering run (vault/people/clustering_run.py).
3. faces, in id order (`faces_locked`): the same writers, after their people; the
   face-finding step, after its photo.

Statements outside a transaction of this kind take one row each: the incremental assignment
(vault/people/detection.py) moves one free face with a conditional UPDATE.

Above the rows, PostgreSQL advisory locks (vault/processing/locks.py) keep one job per photo
(the photo jobs) and one clustering run per owner (worker/people.py); they are taken before
any transaction and never wait.
"""

from __future__ import annotations

from django.db.models import QuerySet

from vault.people.models import Face, Person
from vault.photos.models import Photo


def photo_lock(photo_id) -> bool:
    """Lock the photo's row (step 1); False when it is gone (deleted by its owner meanwhile).
    Call inside transaction.atomic()."""
    return Photo.objects.select_for_update().filter(pk=photo_id).first() is not None


def people_locked(people: QuerySet[Person]) -> QuerySet[Person]:
    """`people` locked in id order (step 2) when evaluated inside transaction.atomic()."""
    return people.select_for_update().order_by("pk")


def faces_locked(faces: QuerySet[Face]) -> QuerySet[Face]:
    """`faces` locked in id order (step 3) when evaluated inside transaction.atomic()."""
    return faces.select_for_update().order_by("pk")
