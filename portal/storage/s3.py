"""MinIO or any S3 API server, through the ``minio`` SDK, in a bucket with versioning on.

Uploads stream in parts (``part_size`` bytes in memory per part, ``parallel`` parts at once);
downloads stream in chunks. The store's errors become ``StoreUnavailable`` / ``ObjectMissing``.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

import urllib3
from minio import Minio
from minio.commonconfig import ENABLED
from minio.error import MinioException, S3Error
from minio.versioningconfig import VersioningConfig

from portal.storage.base import ObjectMissing, ObjectVersion, StoreUnavailable

MISSING_CODES = {"NoSuchKey", "NoSuchVersion", "NoSuchObject", "InvalidArgument"}
NETWORK_ERRORS = (urllib3.exceptions.HTTPError, OSError, MinioException)


class S3Store:
    kind = "s3"

    def __init__(self, endpoint: str, access_key: str, secret_key: str, bucket: str, *,
                 secure: bool = True, region: str | None = None, part_size: int = 5 * 1024 * 1024,
                 parallel: int = 3, connect_timeout: float = 5.0, read_timeout: float = 60.0,
                 retries: int = 2):
        # Our own pool: short connect timeout and few retries, so that a dead store is reported
        # in seconds rather than after the SDK's default five minutes.
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
            maxsize=10,
            retries=urllib3.Retry(total=retries, backoff_factor=0.2,
                                  status_forcelist=[500, 502, 503, 504]),
        )
        self.client = Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=secure,
                            region=region, http_client=http)
        # /healthz answers in seconds even when the store is unreachable: no retries, short timeouts.
        self._probe = Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=secure,
                            region=region, http_client=urllib3.PoolManager(
                                timeout=urllib3.Timeout(connect=2.0, read=3.0), maxsize=2,
                                retries=urllib3.Retry(total=0, connect=0, read=0, redirect=0)))
        self.endpoint = endpoint
        self.bucket = bucket
        self.part_size = max(part_size, 5 * 1024 * 1024)
        self.parallel = max(1, parallel)
        self._ready = False

    def ensure_ready(self) -> None:
        if self._ready:
            return
        try:
            if not self.client.bucket_exists(self.bucket):
                try:
                    self.client.make_bucket(self.bucket)
                except S3Error as exc:
                    if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise
            self.client.set_bucket_versioning(self.bucket, VersioningConfig(ENABLED))
        except NETWORK_ERRORS as exc:
            raise StoreUnavailable(detail=str(exc)) from exc
        self._ready = True

    def put(self, key: str, data: BinaryIO, length: int) -> ObjectVersion:
        self.ensure_ready()
        try:
            result = self.client.put_object(self.bucket, key, data, length,
                                            part_size=self.part_size,
                                            num_parallel_uploads=self.parallel)
        except NETWORK_ERRORS as exc:
            raise StoreUnavailable(detail=str(exc)) from exc
        if not result.version_id:
            raise StoreUnavailable(detail="bucket versioning is off: no version id returned")
        return ObjectVersion(key, result.version_id, length)

    def get(self, key: str, version_id: str, chunk_size: int = 256 * 1024) -> Iterator[bytes]:
        try:
            response = self.client.get_object(self.bucket, key, version_id=version_id)
        except S3Error as exc:
            if exc.code in MISSING_CODES:
                raise ObjectMissing() from exc
            raise StoreUnavailable(detail=str(exc)) from exc
        except NETWORK_ERRORS as exc:
            raise StoreUnavailable(detail=str(exc)) from exc
        return self._stream(response, chunk_size)

    @staticmethod
    def _stream(response, chunk_size: int) -> Iterator[bytes]:
        try:
            yield from response.stream(chunk_size)
        except NETWORK_ERRORS as exc:
            raise StoreUnavailable(detail=str(exc)) from exc
        finally:
            response.close()
            response.release_conn()

    def stat(self, key: str, version_id: str) -> ObjectVersion:
        try:
            info = self.client.stat_object(self.bucket, key, version_id=version_id)
        except S3Error as exc:
            if exc.code in MISSING_CODES or exc.code in ("NoSuchKey", "ResourceNotFound"):
                raise ObjectMissing() from exc
            raise StoreUnavailable(detail=str(exc)) from exc
        except NETWORK_ERRORS as exc:
            raise StoreUnavailable(detail=str(exc)) from exc
        return ObjectVersion(key, version_id, info.size or 0)

    def delete_version(self, key: str, version_id: str) -> None:
        try:
            self.client.remove_object(self.bucket, key, version_id=version_id)
        except S3Error as exc:
            if exc.code in MISSING_CODES:
                return
            raise StoreUnavailable(detail=str(exc)) from exc
        except NETWORK_ERRORS as exc:
            raise StoreUnavailable(detail=str(exc)) from exc

    def list_versions(self, prefix: str = "") -> Iterator[ObjectVersion]:
        try:
            for obj in self.client.list_objects(self.bucket, prefix=prefix or None, recursive=True,
                                                include_version=True):
                if obj.is_delete_marker:
                    continue
                yield ObjectVersion(obj.object_name, obj.version_id or "", obj.size or 0)
        except S3Error as exc:
            if exc.code == "NoSuchBucket":  # not made yet (made by the first upload): nothing stored
                return
            raise StoreUnavailable(detail=str(exc)) from exc
        except NETWORK_ERRORS as exc:
            raise StoreUnavailable(detail=str(exc)) from exc

    def incomplete_uploads(self, prefix: str = "") -> list:
        """Multipart uploads begun and neither completed nor aborted (the SDK aborts on failure,
        but not when the store itself went away). Invisible as objects; they only take space."""
        uploads, key_marker, upload_marker = [], None, None
        try:
            while True:
                result = self.client._list_multipart_uploads(  # noqa: SLF001 (no public call in the SDK)
                    self.bucket, prefix=prefix or None, key_marker=key_marker,
                    upload_id_marker=upload_marker)
                uploads.extend(result.uploads)
                if not result.is_truncated or not result.next_key_marker:
                    return uploads
                key_marker = result.next_key_marker
                upload_marker = getattr(result, "next_upload_id_marker", None)
        except S3Error as exc:
            if exc.code == "NoSuchBucket":
                return []
            raise StoreUnavailable(detail=str(exc)) from exc
        except NETWORK_ERRORS as exc:
            raise StoreUnavailable(detail=str(exc)) from exc

    def clear_incomplete(self, prefix: str = "", older_than: float = 3600) -> int:
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than)
        removed = 0
        for upload in self.incomplete_uploads(prefix):
            started = upload.initiated_time
            if started is not None and started.tzinfo is None:
                started = started.replace(tzinfo=UTC)
            if started is not None and started > cutoff:
                continue  # may still be running
            try:
                self.client._abort_multipart_upload(self.bucket, upload.object_name,  # noqa: SLF001
                                                    upload.upload_id)
                removed += 1
            except S3Error as exc:
                if exc.code != "NoSuchUpload":
                    raise StoreUnavailable(detail=str(exc)) from exc
            except NETWORK_ERRORS as exc:
                raise StoreUnavailable(detail=str(exc)) from exc
        return removed

    def health(self) -> tuple[bool, str]:
        try:
            self._probe.bucket_exists(self.bucket)
        except Exception as exc:  # noqa: BLE001 (any failure means unhealthy)
            return False, f"s3 {self.endpoint}/{self.bucket}: {type(exc).__name__}"
        return True, f"s3 {self.endpoint}/{self.bucket}"
