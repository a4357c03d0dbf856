"""Faces found in photos and the people they are grouped into (DESIGN §8).

Plaintext by design (DESIGN §4): face boxes (fractions of the upright picture), detector scores,
which person a face belongs to, and the flags below. Sealed under the owner's metadata key (row
id and field as associated data): embeddings, person names, and each person's exemplar
embeddings. Face crops are SPV1 blobs of their photo (variant "face", index = Face.index).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from vault.photos.models import Photo


class Person(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="people"
    )
    # The name the owner gave, sealed; null for a group the clustering made and nobody named.
    name_sealed = models.BinaryField(null=True)
    # The owner named or merged it: the clustering never renames, splits, merges or drops it;
    # it only adds new faces to it.
    protected = models.BooleanField(default=False)
    hidden = models.BooleanField(default=False)
    # float32 (k, 128) representative embeddings, sealed: a new face is compared with these.
    exemplars_sealed = models.BinaryField(null=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["owner", "hidden"], name="person_owner")]

    def __str__(self) -> str:
        return f"person {self.id}"


class Face(models.Model):
    class AssignedBy(models.TextChoices):
        NONE = "", "Unassigned"
        AUTO = "auto", "Clustering"  # may be moved by the next clustering run
        USER = "user", "Owner"  # the owner put it there: never moved automatically

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    photo = models.ForeignKey(Photo, on_delete=models.CASCADE, related_name="faces")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="faces"
    )
    index = models.PositiveIntegerField()  # the crop blob's index (variant "face")
    # The box as fractions (0..1) of the upright picture's width and height.
    left = models.FloatField()
    top = models.FloatField()
    width = models.FloatField()
    height = models.FloatField()
    score = models.FloatField()  # the detector's confidence, 0..1
    # Large and sharp enough to be embedded and grouped; small or blurry faces are kept and
    # shown on their photo but never clustered.
    clusterable = models.BooleanField(default=True)
    embedding_sealed = models.BinaryField(null=True)
    person = models.ForeignKey(
        Person, on_delete=models.SET_NULL, null=True, blank=True, related_name="faces"
    )
    assigned_by = models.CharField(
        max_length=8, choices=AssignedBy.choices, blank=True, default=AssignedBy.NONE
    )
    # The owner said this detection is not a face: never shown in people, never clustered.
    not_a_face = models.BooleanField(default=False)
    # Seen by a full clustering run since it was found (or since the owner released it).
    clustered = models.BooleanField(default=False)
    detected_by = models.CharField(max_length=80)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["photo", "index"], name="face_unique_slot"),
        ]
        indexes = [
            models.Index(fields=["owner", "person"], name="face_owner_person"),
            # The people list counts each person's faces in one index-only scan (issue 25).
            models.Index(
                fields=["owner", "person"],
                condition=models.Q(not_a_face=False, person__isnull=False),
                name="face_owner_person_real",
            ),
            # "N faces too small or too blurry" without reading every face.
            models.Index(
                fields=["owner"],
                condition=models.Q(clusterable=False, not_a_face=False),
                name="face_owner_small",
            ),
        ]

    def __str__(self) -> str:
        return f"face {self.id}"

    @property
    def touched(self) -> bool:
        """The owner has said something about this face: its identity must survive re-runs."""
        return self.assigned_by == self.AssignedBy.USER or self.not_a_face or self.vetoes.exists()


class FaceVeto(models.Model):
    """A "not this person": the face never joins that person again, whatever the clustering
    says."""

    face = models.ForeignKey(Face, on_delete=models.CASCADE, related_name="vetoes")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="vetoes")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["face", "person"], name="face_veto_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.face_id} is not {self.person_id}"


class PeopleState(models.Model):
    """Per owner: whether faces wait for a clustering run, and the last run."""

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="people_state",
    )
    needs_clustering = models.BooleanField(default=False)
    changed_at = models.DateTimeField(null=True)  # faces found or people changed, last time
    clustered_at = models.DateTimeField(null=True)
    # When a clustering job was last granted and queued (a lost job is queued again later).
    requested_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"people of user {self.owner_id}"


class ClusteringGrant(models.Model):
    """The owner's metadata key wrapped (HPKE) to one live worker's key, for one clustering run
    (DESIGN §4: "Clustering gets a grant for MK in the same way")."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="clustering_grants"
    )
    worker_key_id = models.CharField(max_length=16)
    wrapped_metadata_key = models.BinaryField()
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "worker_key_id"], name="clustering_grant_unique_worker"
            ),
        ]

    def __str__(self) -> str:
        return f"clustering grant {self.id} for user {self.owner_id}"


class PersonMerge(models.Model):
    """One merge the owner made: where the merged people went (their ids forward to the
    target, so a stale tab that names one says where it went) and, sealed under the metadata
    key, what an undo needs (ids and the people's already-sealed fields; never a name in
    clear)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="person_merges"
    )
    # Not a foreign key: the target may itself be merged away later (the forward then chains).
    target_id = models.UUIDField()
    undo_sealed = models.BinaryField(null=True)  # dropped once the merge can no longer be undone
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["owner", "target_id"], name="person_merge_target")]

    def __str__(self) -> str:
        return f"merge {self.id} into {self.target_id}"


class PersonForward(models.Model):
    """A person merged into another: its old id, for the owner only."""

    source_id = models.UUIDField(primary_key=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="person_forwards"
    )
    merge = models.ForeignKey(PersonMerge, on_delete=models.CASCADE, related_name="forwards")

    def __str__(self) -> str:
        return f"{self.source_id} merged ({self.merge_id})"


class PersonSuggestions(models.Model):
    """What a clustering run found for one named person: the unassigned faces that look like
    them ("Is this Ana?") and the unnamed groups that do ("Merge into Ana"), as ids and
    distances sealed under the metadata key (the worker computes them under its grant; the
    page only reads them)."""

    person = models.OneToOneField(
        Person, on_delete=models.CASCADE, primary_key=True, related_name="suggestions"
    )
    sealed = models.BinaryField()
    computed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"suggestions for {self.person_id}"
