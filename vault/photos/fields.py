"""A wall-clock time without a time zone (PostgreSQL `timestamp`), for the local time a photo
was taken: what the camera's clock showed, which the gallery groups, filters and shows by."""

from __future__ import annotations

import datetime as dt

from django.db import models


class WallClockField(models.DateTimeField):
    """A naive datetime kept as written (`timestamp without time zone`): Django's time-zone
    support converts nothing, in either direction. An aware value is refused (ValueError),
    since which wall clock it stands for would be a guess."""

    description = "Wall-clock date and time (no time zone)"

    def db_type(self, connection):
        return "timestamp"

    def get_prep_value(self, value):
        value = models.Field.get_prep_value(self, value)
        value = self.to_python(value)
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            raise ValueError(f"{self.name} takes a wall-clock time without a time zone")
        return value

    def get_db_prep_value(self, value, connection, prepared=False):
        return value if prepared else self.get_prep_value(value)
