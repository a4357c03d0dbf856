"""A queue probe: a row the web side creates and a worker marks, proving the pipeline runs."""

from django.db import models


class QueueProbe(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    worker_name = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"probe {self.pk} ({'done' if self.processed_at else 'waiting'})"
