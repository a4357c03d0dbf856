"""Fixtures of the link tests: the album tests' owner, photos and album."""

from tests.albums.conftest import (  # noqa: F401 - fixtures, re-exported for this package
    album,
    data_dir,
    member,
    other_client,
    owner_client,
    owner_photos,
    run_jobs,
    worker_key,
)
