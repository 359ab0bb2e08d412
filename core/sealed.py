"""Personal data at rest in the case database, sealed with the payload keys (AES-256-GCM with the
key id, as ``core.codec`` seals Temporal payloads), so a row readable by a report or a backup
holds no account or ID number in clear, and a key rotation works the same way for both."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.codec import NONCE_BYTES, CodecError
from core.settings import Settings


class Sealer:
    def __init__(self, settings: Settings) -> None:
        keys, self.active = settings.codec_keyring()
        self._ciphers = {kid: AESGCM(k) for kid, k in keys.items()}

    def seal(self, value: dict[str, Any]) -> str:
        nonce = os.urandom(NONCE_BYTES)
        data = self._ciphers[self.active].encrypt(nonce, json.dumps(value).encode(), self.active.encode())
        return f"{self.active}:{base64.b64encode(nonce + data).decode()}"

    def unseal(self, sealed: str) -> dict[str, Any]:
        kid, _, blob = sealed.partition(":")
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise CodecError(f"sealed with unknown key id {kid!r}")
        raw = base64.b64decode(blob)
        value: dict[str, Any] = json.loads(cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], kid.encode()))
        return value
