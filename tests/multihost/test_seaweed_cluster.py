"""The SeaweedFS cluster of the multi-host test, on its own: a client on another host writes
through the S3 gateway, one volume server dies, and every object still reads byte for byte."""

from __future__ import annotations

import hashlib
import io
import random

import pytest
from boto3.s3.transfer import TransferConfig

from vaultdev.seaweed_cluster import start_seaweed_cluster

pytestmark = pytest.mark.slow

MIB = 1 << 20


def _volume_bytes(root, number: int) -> int:
    return sum(p.stat().st_size for p in (root / f"volume{number}").glob("*.dat"))


def test_every_object_survives_a_dead_volume_server(lab):
    store, client = lab.add("store"), lab.add("client")
    lab.start()
    cluster = start_seaweed_cluster(store, lab.root / "weed")
    rng = random.Random(23)
    objects = {f"blobs/{n:03d}": rng.randbytes(rng.randrange(1, 200_000)) for n in range(40)}
    # One object large enough to go up in parts, as the vault sends large originals.
    objects["blobs/large"] = rng.randbytes(12 * MIB + 12345)
    multipart = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)

    with client.entered():
        s3 = cluster.s3_client()
        for key, data in objects.items():
            s3.upload_fileobj(io.BytesIO(data), cluster.bucket, key, Config=multipart)
    # Replication 001: each volume server holds a copy of everything.
    assert _volume_bytes(cluster.root, 0) >= sum(map(len, objects.values()))
    assert _volume_bytes(cluster.root, 1) >= sum(map(len, objects.values()))

    cluster.kill_volume(0)

    with client.entered():
        s3 = cluster.s3_client()
        for key, data in objects.items():
            got = s3.get_object(Bucket=cluster.bucket, Key=key)["Body"].read()
            assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest(), key
        # A ranged read (how the vault reads one SPV1 chunk) across a part boundary.
        ranged = s3.get_object(
            Bucket=cluster.bucket, Key="blobs/large", Range=f"bytes={5 * MIB - 10}-{5 * MIB + 9}"
        )["Body"].read()
        assert ranged == objects["blobs/large"][5 * MIB - 10 : 5 * MIB + 10]
        assert s3.list_multipart_uploads(Bucket=cluster.bucket).get("Uploads", []) == []
