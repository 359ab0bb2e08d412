"""The document store: uploaded files kept by content hash under the documents folder (an
object-store-style layout), so a case references a file by id and hash and any change to the
bytes is detectable."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

ALLOWED_TYPES = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}
MAX_BYTES = 20 * 1024 * 1024


def store(root: Path, data: bytes) -> tuple[str, str]:
    """Write the bytes once; return (sha256, storage key)."""
    digest = hashlib.sha256(data).hexdigest()
    key = f"{digest[:2]}/{digest}"
    path = root / key
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return digest, key


def load(root: Path, key: str, expected_sha256: str) -> bytes:
    data = (root / key).read_bytes()
    if hashlib.sha256(data).hexdigest() != expected_sha256:
        raise ValueError("document content does not match its hash")
    return data
