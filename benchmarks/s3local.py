"""A local S3-compatible server: moto in server mode, on 127.0.0.1 (tests and bench_cluster).

Tests never reach a cloud. ``serve_s3`` starts moto's threaded server on a
free loopback port and points every S3 client at it the standard way (the
``AWS_ENDPOINT_URL`` and ``AWS_*`` credential variables, which boto, s3fs and
child processes such as Ray nodes all read), so the code under test is
configured exactly as it would be against AWS: by its environment alone.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SECRET = "local-test-secret-7f3a9c"
"""The secret access key the tests hand the server: it must never appear in an output."""


@dataclass(frozen=True)
class LocalS3:
    endpoint: str
    bucket: str

    def env(self) -> dict[str, str]:
        """The variables an S3 client (in this process or a child) needs for this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "local-test-key",
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def prefix(self, name: str = "t") -> str:
        """A fresh ``s3://`` prefix in the bucket."""
        return f"s3://{self.bucket}/{name}-{uuid.uuid4().hex[:8]}"

    def fs(self) -> object:
        import fsspec

        return fsspec.filesystem("s3")

    def upload(self, local: Path, uri: str) -> str:
        """Copy a local file or folder (recursively) to ``uri``; return ``uri``."""
        fs: object = self.fs()
        key = uri.split("://", 1)[1]
        if local.is_dir():
            for f in sorted(p for p in local.rglob("*") if p.is_file()):
                fs.put_file(str(f), f"{key}/{f.relative_to(local).as_posix()}")  # type: ignore[attr-defined]
        else:
            fs.put_file(str(local), key)  # type: ignore[attr-defined]
        return uri

    def read(self, uri: str) -> bytes:
        fs = self.fs()
        fs.invalidate_cache()  # type: ignore[attr-defined]
        return bytes(fs.cat_file(uri.split("://", 1)[1]))  # type: ignore[attr-defined]

    def keys(self, uri: str) -> list[str]:
        fs = self.fs()
        fs.invalidate_cache()  # type: ignore[attr-defined]
        key = uri.split("://", 1)[1]
        return sorted(str(k)[len(key) + 1 :] for k in fs.find(key))  # type: ignore[attr-defined]


@contextmanager
def serve_s3() -> Iterator[LocalS3]:
    """A moto S3 server with one bucket, and this process's environment pointed at it."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    s3 = LocalS3(f"http://{host}:{port}", "clearance-test")
    saved = {k: os.environ.get(k) for k in s3.env()}
    os.environ.update(s3.env())
    try:
        import boto3

        boto3.client("s3", endpoint_url=s3.endpoint).create_bucket(Bucket=s3.bucket)
        yield s3
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()
