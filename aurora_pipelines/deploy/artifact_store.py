"""Where deployment bundles live: a local directory or an S3 (or S3-compatible) bucket.

Keys are `/`-separated relative paths (`bundles/credit_model/3/manifest.json`). Putting a
directory stores every file under `<key>/...` and replaces whatever was under that key
before, so a re-put never leaves stale files next to the new ones.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import time
import uuid
from abc import ABC, abstractmethod
from pathlib import Path, PurePosixPath
from typing import Any

from aurora_pipelines.errors import NotFound, SourceError, SpecError

MIN_PART_SIZE = 5 * 1024 * 1024  # S3 refuses smaller parts (except the last)
DEFAULT_MULTIPART_THRESHOLD = 64 * 1024 * 1024
# S3 error codes worth another try: throttling and server-side trouble.
# A staging or swapped-out folder nobody on another host can still be using after this long.
STALE_STAGING_SECONDS = 24 * 3600
TRANSIENT_CODES = frozenset(
    {"500", "502", "503", "504", "InternalError", "ServiceUnavailable", "SlowDown",
     "RequestTimeout", "RequestTimeTooSkewed", "Throttling", "ThrottlingException"}
)  # fmt: skip


def normalize_key(key: str) -> str:
    """`a/b/c` from `/a//b/c/`; refuses `..` and `.` segments (they would escape the root)."""
    parts = [p for p in key.replace("\\", "/").split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise SpecError(f"artifact key '{key}' contains '.' or '..'; use a plain relative path")
    return "/".join(parts)


class ArtifactStore(ABC):
    """A flat key space of files; a "directory" is every key under a prefix."""

    @abstractmethod
    def put(self, local: Path, key: str) -> str:
        """Store a file or a directory (recursively) under `key`; returns its URI."""

    @abstractmethod
    def get(self, key: str, dest: Path) -> Path:
        """Copy the file or directory at `key` to `dest`; NotFound if nothing is there."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """True if `key` is a stored file or has files under it."""

    @abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """Keys of all stored files that start with `prefix`, sorted."""

    @abstractmethod
    def uri(self, key: str) -> str:
        """The URI `key` has (or would have) in this store."""


class LocalArtifactStore(ArtifactStore):
    """A directory on local (or network-mounted) disk."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser().resolve()

    def __repr__(self) -> str:
        return f"LocalArtifactStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        key = normalize_key(key)
        return self.root / key if key else self.root

    def uri(self, key: str) -> str:
        return self._path(key).as_uri()

    def put(self, local: Path, key: str) -> str:
        local = Path(local)
        if not local.exists():
            raise NotFound(f"cannot store {local}: it does not exist")
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_staging(target)
        # Copy beside the target, then swap: readers never see a half-copied bundle. The
        # name carries host and pid, so a later put can tell a dead upload's leftovers from
        # a live one's (remove_stale_staging).
        owner = f"{_HOST}-{os.getpid()}"
        staging = target.with_name(f".{target.name}.tmp-{owner}-{uuid.uuid4().hex}")
        if local.is_dir():
            shutil.copytree(local, staging)
        else:
            shutil.copy2(local, staging)
        previous = target.with_name(f".{target.name}.old-{owner}-{uuid.uuid4().hex}")
        if target.exists():
            target.rename(previous)
        staging.rename(target)
        if previous.is_dir():
            shutil.rmtree(previous)
        elif previous.exists():
            previous.unlink()
        return target.as_uri()

    def get(self, key: str, dest: Path) -> Path:
        source = self._path(key)
        if not source.exists():
            raise NotFound(f"no artifact '{key}' in {self.root}; list them with store.list()")
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, dest, dirs_exist_ok=True)
        else:
            shutil.copy2(source, dest)
        return dest

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def list(self, prefix: str = "") -> list[str]:
        prefix = normalize_key(prefix) if prefix else ""
        # Walk only the deepest directory the prefix names, not the whole store.
        base = self.root / PurePosixPath(prefix).parent if "/" in prefix else self.root
        if not base.is_dir():
            return []
        keys = []
        for path in base.rglob("*"):
            if not path.is_file() or any(p.startswith(".") for p in path.relative_to(base).parts):
                continue
            key = path.relative_to(self.root).as_posix()
            if key.startswith(prefix):
                keys.append(key)
        return sorted(keys)


_HOST = re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname()) or "host"
_STAGING = re.compile(
    r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-(?P<host>[A-Za-z0-9_.]+)-(?P<pid>\d+)-[0-9a-f]{32}$"
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_staging(target: Path, *, now: float | None = None) -> list[Path]:
    """Delete the staging (`.<name>.tmp-...`) and swapped-out (`.<name>.old-...`) folders a
    killed put of `target` left beside it, and return them.

    A put killed mid-copy (kill -9, OOM, power loss) cannot clean up after itself. Its
    leftovers are hidden (list() skips them) but hold a whole bundle's bytes, so the next put
    of the same key removes them: at once if their owner was a process on this host that is
    gone, after STALE_STAGING_SECONDS if it ran on another host (a shared disk). A live
    concurrent put's folder is left alone. A put killed between its two renames left no
    target but the previous copy as `.old-`: that copy is moved back, not deleted.
    """
    now = time.time() if now is None else now
    removed = []
    for path in target.parent.glob(f".{glob_escape(target.name)}.*-*"):
        match = _STAGING.match(path.name)
        if match is None or match["name"] != target.name:
            continue
        if match["host"] == _HOST:
            stale = not _alive(int(match["pid"]))
        else:
            try:
                stale = now - path.lstat().st_mtime > STALE_STAGING_SECONDS
            except FileNotFoundError:
                continue
        if not stale:
            continue
        if match["kind"] == "old" and not target.exists():
            # Killed between the two renames: the swapped-out copy is the last good one.
            path.rename(target)
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def glob_escape(name: str) -> str:
    """`name` with glob metacharacters escaped (a key segment may contain `[`)."""
    import glob

    return glob.escape(name)


class S3ArtifactStore(ArtifactStore):
    """An S3 bucket (or any S3-compatible store, via `endpoint_url`), under a key prefix.

    Two layers of retries: botocore's `standard` mode retries each HTTP request on throttling,
    5xx and connection errors (`max_attempts` per request); on top, a whole transfer that still
    fails for a transient reason (e.g. a multipart upload whose part kept failing) is restarted
    up to `transfer_attempts` times with exponential backoff. Files of `multipart_threshold`
    bytes or more go up and down in parallel parts of `multipart_chunksize`.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        client: Any = None,
        *,
        max_attempts: int = 8,
        transfer_attempts: int = 4,
        backoff_seconds: float = 0.2,
        multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
        multipart_chunksize: int | None = None,
    ) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        if multipart_threshold < MIN_PART_SIZE:
            raise SpecError(
                f"S3 multipart threshold {multipart_threshold} bytes is below S3's minimum part "
                f"size ({MIN_PART_SIZE} bytes = 5 MiB); raise it"
            )
        self.bucket = bucket
        self.prefix = normalize_key(prefix) if prefix else ""
        self.endpoint_url = endpoint_url
        self.transfer_attempts = max(1, transfer_attempts)
        self.backoff_seconds = backoff_seconds
        self.retried: list[str] = []  # transient failures our own layer retried (for logs/tests)
        # Standard retry mode backs off on throttling and transient 5xx, which S3 does return.
        self._client = client or boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            config=Config(
                retries={"total_max_attempts": max_attempts, "mode": "standard"},
                connect_timeout=10,
                read_timeout=60,
            ),
        )
        # Model files can be hundreds of MB: upload/download them in parallel parts.
        self._transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=multipart_chunksize or max(MIN_PART_SIZE, multipart_threshold // 4),
            max_concurrency=4,
        )

    def __repr__(self) -> str:
        return f"S3ArtifactStore({self.uri('')!r}, endpoint_url={self.endpoint_url!r})"

    def _full(self, key: str) -> str:
        key = normalize_key(key)
        return "/".join(p for p in (self.prefix, key) if p)

    def _relative(self, full_key: str) -> str:
        return full_key[len(self.prefix) + 1 :] if self.prefix else full_key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._full(key)}"

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """`fn(...)`, retried on transient failures, with S3 errors turned into Aurora errors."""
        import time

        from botocore.exceptions import BotoCoreError, ClientError

        for attempt in range(1, self.transfer_attempts + 1):
            try:
                return fn(*args, **kwargs)
            except (ClientError, BotoCoreError, Exception) as exc:
                if attempt < self.transfer_attempts and _is_transient(exc):
                    self.retried.append(f"{what}: {type(exc).__name__}: {exc}")
                    time.sleep(self.backoff_seconds * 2 ** (attempt - 1))
                    continue
                if isinstance(exc, ClientError):
                    self._raise_client_error(what, exc)
                if isinstance(exc, BotoCoreError) or _is_transient(exc):
                    raise SourceError(
                        f"cannot reach S3 for {what} on s3://{self.bucket} after "
                        f"{attempt} attempt(s) ({exc}); check AWS_ENDPOINT_URL and the network"
                    ) from exc
                raise
        raise AssertionError("unreachable")

    def _raise_client_error(self, what: str, exc: Any) -> None:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchBucket",):
            raise NotFound(
                f"S3 bucket '{self.bucket}' does not exist; create it or fix the "
                "artifact store URL (AURORA_ARTIFACT_URL)"
            ) from exc
        if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            raise SourceError(
                f"S3 refused {what} on s3://{self.bucket} ({code}); check the AWS "
                "credentials and the bucket policy"
            ) from exc
        raise exc

    def _keys(self, full_prefix: str) -> list[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        keys: list[str] = []
        pages = self._call(
            "list", lambda: list(paginator.paginate(Bucket=self.bucket, Prefix=full_prefix))
        )
        for page in pages:
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        return sorted(keys)

    def _delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            self._call(
                "delete",
                self._client.delete_objects,
                Bucket=self.bucket,
                Delete={"Objects": batch, "Quiet": True},
            )

    def put(self, local: Path, key: str) -> str:
        local = Path(local)
        if not local.exists():
            raise NotFound(f"cannot store {local}: it does not exist")
        full = self._full(key)
        if local.is_file():
            self._call(
                "upload",
                self._client.upload_file,
                str(local),
                self.bucket,
                full,
                Config=self._transfer,
            )
            self.abort_abandoned_uploads(key)
            return self.uri(key)
        uploaded = set()
        for path in sorted(p for p in local.rglob("*") if p.is_file()):
            object_key = f"{full}/{path.relative_to(local).as_posix()}"
            self._call(
                "upload",
                self._client.upload_file,
                str(path),
                self.bucket,
                object_key,
                Config=self._transfer,
            )
            uploaded.add(object_key)
        # Files of an earlier put under the same key are removed after the new ones are up.
        self._delete([k for k in self._keys(f"{full}/") if k not in uploaded])
        self.abort_abandoned_uploads(key)
        return self.uri(key)

    def abort_abandoned_uploads(
        self, key: str, *, older_than_seconds: float = STALE_STAGING_SECONDS
    ) -> list[str]:
        """Abort the multipart uploads under `key` started more than `older_than_seconds` ago,
        and return their object keys.

        A failed multipart upload is aborted by boto3 itself; one whose process was killed
        (kill -9) is not, and S3 keeps (and bills) its parts, invisible to list(), until
        someone aborts it. The next put of the same key does; buckets should also carry an
        `AbortIncompleteMultipartUpload` lifecycle rule (docs: README, artifact store) for keys
        that are never put again. Younger uploads may be a live concurrent put: left alone.
        """
        import datetime as dt

        full = self._full(key)
        listed = self._call(
            "list uploads", self._client.list_multipart_uploads, Bucket=self.bucket, Prefix=full
        )
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=older_than_seconds)
        aborted = []
        for upload in listed.get("Uploads", []):
            if upload["Key"] != full and not upload["Key"].startswith(f"{full}/"):
                continue
            if upload["Initiated"] > cutoff:
                continue
            self._call(
                "abort upload",
                self._client.abort_multipart_upload,
                Bucket=self.bucket,
                Key=upload["Key"],
                UploadId=upload["UploadId"],
            )
            aborted.append(self._relative(upload["Key"]))
        return aborted

    def get(self, key: str, dest: Path) -> Path:
        full = self._full(key)
        dest = Path(dest)
        under = self._keys(f"{full}/")
        if under:
            for object_key in under:
                target = dest / object_key[len(full) + 1 :]
                target.parent.mkdir(parents=True, exist_ok=True)
                self._call(
                    "download",
                    self._client.download_file,
                    self.bucket,
                    object_key,
                    str(target),
                    Config=self._transfer,
                )
            return dest
        if not self._object_exists(full):
            raise NotFound(f"no artifact '{key}' in {self.uri('')}; list them with store.list()")
        dest.parent.mkdir(parents=True, exist_ok=True)
        self._call(
            "download",
            self._client.download_file,
            self.bucket,
            full,
            str(dest),
            Config=self._transfer,
        )
        return dest

    def _object_exists(self, full_key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._call("head", self._client.head_object, Bucket=self.bucket, Key=full_key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def exists(self, key: str) -> bool:
        full = self._full(key)
        return self._object_exists(full) or bool(self._keys(f"{full}/"))

    def list(self, prefix: str = "") -> list[str]:
        full = self._full(prefix) if prefix else self.prefix
        # A store prefix must match whole path segments: `models` must not list `models2/...`.
        if not prefix and self.prefix:
            full += "/"
        return [self._relative(k) for k in self._keys(full)]


def _is_transient(exc: BaseException) -> bool:
    """Throttling, 5xx, dropped connections and failed transfers caused by one of them."""
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import ClientError, ConnectionError, ReadTimeoutError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        return error.get("Code", "") in TRANSIENT_CODES or status.startswith("5")
    if isinstance(exc, ConnectionError | ReadTimeoutError):
        return True
    if isinstance(exc, S3UploadFailedError):
        # upload_file wraps the last ClientError in text only: look for a transient code in it.
        return any(code in str(exc) for code in TRANSIENT_CODES)
    cause = exc.__cause__ or exc.__context__
    return cause is not None and cause is not exc and _is_transient(cause)


def env_int(name: str, default: int, scale: int = 1) -> int:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return int(float(value) * scale)
    except ValueError:
        raise SpecError(f"{name}={value!r} is not a number") from None


def artifact_store_from_url(url: str) -> ArtifactStore:
    """`s3://bucket/prefix` -> S3ArtifactStore (endpoint: AWS_ENDPOINT_URL_S3 or
    AWS_ENDPOINT_URL; multipart threshold: AURORA_S3_MULTIPART_THRESHOLD_MB; attempts per
    request: AURORA_S3_MAX_ATTEMPTS); anything else is a local directory."""
    if url.startswith("s3://"):
        bucket, _, prefix = url[len("s3://") :].partition("/")
        if not bucket:
            raise SpecError(f"artifact store URL '{url}' has no bucket; use s3://bucket/prefix")
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        return S3ArtifactStore(
            bucket,
            prefix,
            endpoint_url=endpoint or None,
            max_attempts=env_int("AURORA_S3_MAX_ATTEMPTS", 8),
            multipart_threshold=env_int(
                "AURORA_S3_MULTIPART_THRESHOLD_MB", DEFAULT_MULTIPART_THRESHOLD, 1024 * 1024
            ),
        )
    if url.startswith("file://"):
        return LocalArtifactStore(Path(url[len("file://") :]))
    if "://" in url:
        raise SpecError(
            f"artifact store URL '{url}' has an unsupported scheme; use a local directory "
            "or s3://bucket/prefix"
        )
    return LocalArtifactStore(Path(url))
