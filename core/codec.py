"""AES-256-GCM payload codec: the Temporal server never sees personal data in plain text.

Each encrypted payload names the key that sealed it (``encryption-key-id`` metadata), so keys can
rotate: the active key encrypts, every key in the ring decrypts. A payload that cannot be
decrypted is an error, never a silent plaintext fallback.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12


class CodecError(Exception):
    """A payload could not be decrypted (unknown key, wrong key, or tampered data)."""


class AesGcmCodec(PayloadCodec):
    def __init__(self, keys: dict[str, bytes], active_key_id: str) -> None:
        if active_key_id not in keys:
            raise CodecError(f"active key {active_key_id!r} is not in the key ring")
        self._ciphers = {kid: AESGCM(k) for kid, k in keys.items()}
        self._active = active_key_id

    @property
    def active_key_id(self) -> str:
        return self._active

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._ciphers)

    def opens(self, p: Payload) -> bool:
        """Whether the ring's key for ``p``'s key id authenticates it (a synchronous check, for
        telling an auditor which key is wrong rather than decrypting anything for use)."""
        cipher = self._ciphers.get(p.metadata.get(KEY_ID, b"").decode())
        if cipher is None:
            return False
        try:
            cipher.decrypt(p.data[:NONCE_BYTES], p.data[NONCE_BYTES:], p.metadata[KEY_ID])
        except InvalidTag:
            return False
        return True

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        cipher = self._ciphers[self._active]
        out = []
        for p in payloads:
            nonce = os.urandom(NONCE_BYTES)
            sealed = cipher.encrypt(nonce, p.SerializeToString(), self._active.encode())
            out.append(
                Payload(metadata={"encoding": ENCODING, KEY_ID: self._active.encode()}, data=nonce + sealed)
            )
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for p in payloads:
            if p.metadata.get("encoding", b"") != ENCODING:
                # Unencrypted payloads only come from outside this system (e.g. an operator's CLI
                # signal). They are passed on as they are; nothing of ours is ever sent that way.
                out.append(p)
                continue
            kid = p.metadata.get(KEY_ID, b"").decode()
            cipher = self._ciphers.get(kid)
            if cipher is None:
                raise CodecError(f"payload sealed with unknown key id {kid!r}")
            try:
                plain = cipher.decrypt(p.data[:NONCE_BYTES], p.data[NONCE_BYTES:], kid.encode())
            except InvalidTag as e:
                raise CodecError(f"payload sealed with key {kid!r} failed authentication") from e
            out.append(Payload.FromString(plain))
        return out
