"""Any S3-compatible object store (SeaweedFS, MinIO, Garage, Ceph RGW, AWS) through boto3.

Writes are multipart uploads with bounded memory: part 1 stays in memory until `finish()` so
the SPV1 header can be patched into it, later parts are uploaded as they fill, and the object
appears only when the upload completes (an object smaller than one part is one PUT). Reads are
ranged GETs with a read-ahead window that grows while a reader reads sequentially, so a
thumbnail is one GET and a full download a handful.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import re
import uuid
from collections.abc import Iterator

import boto3
import botocore.exceptions
from botocore.config import Config
from botocore.handlers import add_expect_header

from vault.blobstore.base import (
    BlobMissing,
    BlobStore,
    ObjectReader,
    ObjectWriter,
    StoreError,
    check_key,
    check_prefix,
)

log = logging.getLogger(__name__)

# S3 refuses non-last parts under 5 MiB; 8 MiB parts bound a writer to ~16 MiB of memory
# (part 1 held for the header patch + the part being filled) and a 4 GiB video to 512 parts.
PART_BYTES = 8 * 1024 * 1024
# Read-ahead: the first GET fetches 256 KiB (a whole thumbnail, or a large blob's header and
# first chunks); each sequential read doubles the window up to 4 MiB.
FIRST_WINDOW = 256 * 1024
MAX_WINDOW = 4 * 1024 * 1024
_MISSING = {"NoSuchKey", "404", "NotFound"}
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


def _code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _store_error(exc: Exception, what: str) -> StoreError:
    """A StoreError naming the operation and the server's error code; botocore's messages hold
    the endpoint and operation, never the credentials."""
    if isinstance(exc, botocore.exceptions.ClientError):
        detail = f"{_code(exc)} ({exc.response.get('Error', {}).get('Message', '')})"
    else:
        detail = type(exc).__name__
    return StoreError(f"object store: {what} failed: {detail}")


_BOTO_ERRORS = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)


class S3Writer(ObjectWriter):
    def __init__(self, store: S3Store, key: str) -> None:
        self._store = store
        self._key = key
        self._first: bytearray | None = None  # part 1, held for the header patch
        self._buf = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict] = []
        self._done = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._done:
            raise ValueError("write to a finished or aborted object writer")
        size = len(memoryview(data).cast("B"))
        self._buf += data
        try:
            if self._first is None and len(self._buf) >= PART_BYTES:
                self._first = self._buf[:PART_BYTES]
                del self._buf[:PART_BYTES]
            while self._first is not None and len(self._buf) >= PART_BYTES:
                self._upload_part(bytes(self._buf[:PART_BYTES]))
                del self._buf[:PART_BYTES]
        except BaseException:
            self.abort()
            raise
        return size

    def _upload_part(self, body: bytes) -> None:
        client, bucket = self._store.client, self._store.bucket
        try:
            if self._upload_id is None:
                created = client.create_multipart_upload(Bucket=bucket, Key=self._key)
                self._upload_id = created["UploadId"]
                self._parts.append({"PartNumber": 1})  # its ETag comes at finish()
            number = len(self._parts) + 1
            done = client.upload_part(
                Bucket=bucket,
                Key=self._key,
                UploadId=self._upload_id,
                PartNumber=number,
                Body=body,
            )
        except _BOTO_ERRORS as exc:
            raise _store_error(exc, "upload part") from None
        self._parts.append({"PartNumber": number, "ETag": done["ETag"]})

    def finish(self, head: bytes = b"") -> None:
        if self._done:
            raise ValueError("finish of a finished or aborted object writer")
        client, bucket = self._store.client, self._store.bucket
        try:
            first = self._first if self._first is not None else self._buf
            if len(head) > len(first):
                raise ValueError("head longer than the object")
            first[: len(head)] = head
            try:
                if self._upload_id is None:
                    if self._first is not None:  # part 1 and the rest: one object
                        first += self._buf
                    client.put_object(Bucket=bucket, Key=self._key, Body=first)
                else:
                    if self._buf:
                        self._upload_part(bytes(self._buf))
                    done = client.upload_part(
                        Bucket=bucket,
                        Key=self._key,
                        UploadId=self._upload_id,
                        PartNumber=1,
                        Body=bytes(first),
                    )
                    self._parts[0]["ETag"] = done["ETag"]
                    client.complete_multipart_upload(
                        Bucket=bucket,
                        Key=self._key,
                        UploadId=self._upload_id,
                        MultipartUpload={"Parts": self._parts},
                    )
            except _BOTO_ERRORS as exc:
                raise _store_error(exc, "upload") from None
        except BaseException:
            self.abort()
            raise
        self._done = True
        self._first = None
        self._buf = bytearray()

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        self._first = None
        self._buf = bytearray()
        if self._upload_id is not None:
            try:
                self._store.client.abort_multipart_upload(
                    Bucket=self._store.bucket, Key=self._key, UploadId=self._upload_id
                )
            except _BOTO_ERRORS as exc:
                # The sweep (remove_incomplete) retries; the object was never committed.
                log.warning("object store: abort of an upload failed: %s", _store_error(exc, ""))


class S3Reader(ObjectReader):
    """Ranged GETs through one cached window; the size comes from the first GET's
    Content-Range, so opening costs no HEAD."""

    def __init__(self, store: S3Store, key: str) -> None:
        self._store = store
        self._key = key
        self._window = FIRST_WINDOW
        self._cache_start = 0
        self._cache = b""
        self.gets = 0  # ranged GETs so far (the bench and tests count them)
        try:
            self._cache, self.size = self._get(0, FIRST_WINDOW)
        except StoreError as exc:
            if getattr(exc, "code", "") != "InvalidRange":
                raise
            self.size = store.size(key)  # an empty object has no byte to range over

    def _get(self, start: int, length: int) -> tuple[bytes, int]:
        self.gets += 1
        try:
            response = self._store.client.get_object(
                Bucket=self._store.bucket,
                Key=self._key,
                Range=f"bytes={start}-{start + length - 1}",
            )
            body = response["Body"].read()
        except botocore.exceptions.ClientError as exc:
            if _code(exc) in _MISSING:
                raise BlobMissing(2, "no such object", self._key) from None
            error = _store_error(exc, "read")
            error.code = _code(exc)
            raise error from None
        except botocore.exceptions.BotoCoreError as exc:
            raise _store_error(exc, "read") from None
        match = _CONTENT_RANGE.fullmatch(response.get("ContentRange") or "")
        total = int(match.group(3)) if match else int(response["ContentLength"])
        return body, total

    def read_at(self, offset: int, size: int) -> bytes:
        if offset < 0 or size < 0:
            raise ValueError("negative offset or size")
        end = min(offset + size, self.size)
        if offset >= end:
            return b""
        cache_end = self._cache_start + len(self._cache)
        if self._cache_start <= offset <= cache_end < end:
            # Reading on past the window: keep its tail, fetch further ahead each time.
            self._window = min(self._window * 2, MAX_WINDOW)
            length = min(max(end - cache_end, self._window), self.size - cache_end)
            fetched, _ = self._get(cache_end, length)
            self._cache = self._cache[offset - self._cache_start :] + fetched
            self._cache_start = offset
        elif not (self._cache_start <= offset and end <= cache_end):  # a jump (a video seek)
            self._window = FIRST_WINDOW
            length = min(max(end - offset, self._window), self.size - offset)
            self._cache, _ = self._get(offset, length)
            self._cache_start = offset
        lo = offset - self._cache_start
        return self._cache[lo : lo + end - offset]

    def close(self) -> None:
        self._cache = b""


class S3Store(BlobStore):
    """Objects in one bucket of an S3-compatible server, keys as given (no extra prefix)."""

    kind = "s3"
    # Seconds per connect and per read of the /healthz probe (one attempt): a live store on
    # the private network answers in milliseconds; the check must not hang the health page.
    PROBE_TIMEOUT = 2.0
    _probe_client = None

    def __init__(
        self,
        *,
        endpoint: str,
        bucket: str,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
        ca_file: str | None = None,
        connect_timeout: float = 5,
        read_timeout: float = 60,
    ) -> None:
        self.endpoint = endpoint
        self.bucket = bucket
        s3_options = {"addressing_style": "path"}
        if endpoint.lower().startswith("https://"):
            # Over TLS, SigV4 signs the headers (the credentials still authenticate every
            # request, and x-amz-content-sha256 says UNSIGNED-PAYLOAD) but not a SHA-256 of the
            # body: TLS already protects it on the wire, and the SPV1 tags authenticate every
            # byte of it. That saves botocore hashing every uploaded byte first (5 ms of CPU
            # for a 3.8 MB photo on the 2-core bench box, docs/object-store.md).
            # Over plain HTTP (tests, the bench on one machine) the body stays signed: nothing
            # else would stop a relay from swapping it.
            s3_options["payload_signing_enabled"] = False
        config = Config(
            signature_version="s3v4",
            s3=s3_options,
            retries={"max_attempts": 5, "mode": "standard"},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_pool_connections=32,
            # Checksums only where S3 demands them: not every S3-compatible server accepts the
            # aws-chunked trailers newer botocore sends by default. AES-GCM tags and the SPV1
            # MAC already authenticate every byte.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self.client = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region,
            config=config,
            verify=ca_file or True,
        )
        # No "Expect: 100-continue" on PUTs: it costs a round trip to the gateway (and, on a
        # busy host, a wait for its scheduling) before every upload's body is sent. All it
        # saves is sending a body the server then refuses, which a working vault never does.
        self.client.meta.events.unregister("before-call.s3", add_expect_header)

    def __repr__(self) -> str:  # never the credentials
        return f"S3Store(endpoint={self.endpoint!r}, bucket={self.bucket!r})"

    def writer(self, key: str) -> S3Writer:
        return S3Writer(self, check_key(key))

    def reader(self, key: str) -> S3Reader:
        return S3Reader(self, check_key(key))

    def size(self, key: str) -> int:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=check_key(key))
        except botocore.exceptions.ClientError as exc:
            if _code(exc) in _MISSING:
                raise BlobMissing(2, "no such object", key) from None
            raise _store_error(exc, "size") from None
        except botocore.exceptions.BotoCoreError as exc:
            raise _store_error(exc, "size") from None
        return int(head["ContentLength"])

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=check_key(key))
        except _BOTO_ERRORS as exc:
            if isinstance(exc, botocore.exceptions.ClientError) and _code(exc) in _MISSING:
                return
            raise _store_error(exc, "delete") from None

    def delete_prefix(self, prefix: str) -> int:
        keys = [key for key, _size in self.list(prefix)]
        removed = 0
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
            batch = keys[start : start + 1000]
            try:
                result = self.client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
                )
            except _BOTO_ERRORS as exc:
                raise _store_error(exc, "delete") from None
            if result.get("Errors"):
                raise StoreError(f"object store: {len(result['Errors'])} objects not deleted")
            removed += len(batch)
        self.remove_incomplete(prefix)
        return removed

    def list(self, prefix: str = "") -> Iterator[tuple[str, int]]:
        check_prefix(prefix)
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield item["Key"], int(item["Size"])
        except _BOTO_ERRORS as exc:
            raise _store_error(exc, "list") from None

    def incomplete(self, prefix: str = "") -> list[tuple[str, str]]:
        """(key, upload id) of every unfinished multipart upload below `prefix`."""
        check_prefix(prefix)
        found = []
        paginator = self.client.get_paginator("list_multipart_uploads")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for upload in page.get("Uploads", []):
                    if upload["Key"].startswith(prefix):
                        found.append((upload["Key"], upload["UploadId"]))
        except _BOTO_ERRORS as exc:
            raise _store_error(exc, "list uploads") from None
        return found

    def remove_incomplete(self, prefix: str) -> int:
        removed = 0
        for key, upload_id in self.incomplete(prefix):
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            except _BOTO_ERRORS as exc:
                if isinstance(exc, botocore.exceptions.ClientError) and _code(exc) in {
                    "NoSuchUpload",
                    "404",
                }:
                    continue
                raise _store_error(exc, "abort upload") from None
            removed += 1
        return removed

    def create_bucket(self) -> None:
        """Create the bucket if it does not exist (the test harness and first deployment)."""
        try:
            self.client.create_bucket(Bucket=self.bucket)
        except botocore.exceptions.ClientError as exc:
            if _code(exc) not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                raise _store_error(exc, "create bucket") from None
        except botocore.exceptions.BotoCoreError as exc:
            raise _store_error(exc, "create bucket") from None

    def probe_client(self):
        """The boto3 client `probe` uses: this store's endpoint, credentials and CA, but one
        attempt and PROBE_TIMEOUT seconds per connect and read, so /healthz reports a stopped
        object store in seconds instead of after the normal client's five retries with backoff.
        Built once per store."""
        if self._probe_client is None:
            meta = self.client.meta
            # botocore's own accessor for the client's credentials: the keys stay in memory.
            credentials = self.client._get_credentials()
            self._probe_client = boto3.session.Session().client(
                "s3",
                endpoint_url=meta.endpoint_url,
                aws_access_key_id=credentials.access_key,
                aws_secret_access_key=credentials.secret_key,
                region_name=meta.region_name,
                config=meta.config.merge(
                    Config(
                        retries={"total_max_attempts": 1, "mode": "standard"},
                        connect_timeout=self.PROBE_TIMEOUT,
                        read_timeout=self.PROBE_TIMEOUT,
                    )
                ),
                verify=self.client._endpoint.http_session._verify,
            )
        return self._probe_client

    def probe(self) -> dict:
        # The same steps through a copy of this store that uses the probe's client.
        quick = copy.copy(self)
        quick.client = self.probe_client()
        return S3Store._probe(quick)

    def _probe(self) -> dict:
        result = {"kind": self.kind, "ok": False, "reachable": False, "bucket": False}
        result.update(round_trip=False, error=None, endpoint=self.endpoint)
        key = f"probe/{uuid.uuid4().hex}.spv"
        payload = uuid.uuid4().bytes * 2
        try:
            try:
                self.client.head_bucket(Bucket=self.bucket)
                result["reachable"] = result["bucket"] = True
            except botocore.exceptions.ClientError as exc:
                result["reachable"] = True  # the server answered
                raise _store_error(exc, "bucket check") from None
            except botocore.exceptions.BotoCoreError as exc:
                raise _store_error(exc, "connect") from None
            with self.writer(key) as writer:
                writer.write(payload)
                writer.finish()
            with self.reader(key) as reader:
                result["round_trip"] = reader.read_at(0, len(payload)) == payload
        except OSError as exc:
            result["error"] = str(exc)
        finally:
            if result["bucket"]:
                with contextlib.suppress(OSError):
                    self.delete(key)
        result["ok"] = bool(result["reachable"] and result["bucket"] and result["round_trip"])
        return result
