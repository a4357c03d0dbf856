"""Grants (DESIGN §4): a key the owner holds, wrapped with HPKE to one live worker's in-memory
key and bound by `info` to (grant id, user, photo, expiry, purpose): the only way a worker gets
a key it needs for a job. Job arguments carry ids only.

One module per kind of grant, one vocabulary for all of them:
- `photo`: a photo's data key and the owner's metadata key, for a `photo_process` or
  `photo_update` job (rows: `photos.ProcessingGrant`);
- `clustering`: the owner's metadata key, for a `people_cluster` run (`people.ClusteringGrant`).

Each kind has `<kind>_grants_issue` (replace the grants with one per live worker key, return how
many), `<kind>_grant_open` (the worker's side; raises `GrantUnavailable`) and
`<kind>_grants_revoke`. `base` holds what they share: `GrantUnavailable`, `GrantedKeys`, the
`info` binding, the expiry and the live-grant query (`live_grants`, `live_workers`). When the
grants are made — at upload, on retry, on the owner's visits — is up to the app whose rows
change then (`vault/photos/scheduling.py`, `vault/people/clustering_state.py`).
"""
