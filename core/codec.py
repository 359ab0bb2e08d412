"""AES-256-GCM payload codec: the Temporal server never sees personal data in plain text.

Each encrypted payload names the key that sealed it (``encryption-key-id`` metadata), so keys can
rotate: the active key encrypts, every key in the ring decrypts. A payload that cannot be
decrypted is an error, never a silent plaintext fallback.

An unsealed payload is refused too: whoever can reach the Temporal frontend without the key (a raw
client, a CLI without ``--codec-endpoint``) could otherwise send an Update whose plain JSON names
any actor, and the worker would take it as ours. Decoding replaces it with an empty payload of
encoding ``binary/refused-unsealed`` that no converter reads, so the refusal happens where the
payload is used: the worker rejects such an Update (its arguments cannot be decoded) instead of
failing the workflow task again and again, which would stall the case for everyone; the codec
endpoint answers 422. Only what the Temporal server and SDK themselves write in plain text, and
which can carry no command, passes unchanged (``plain_payload_allowed``):

- search-attribute values (``type`` metadata set by the server: ``Keyword``, ``Bool`` ...), a JSON
  scalar or a list of scalars; the Web UI sends them to ``/codec/decode`` with the history;
- the SDK's patch markers (``{"id": "<patch id>", "deprecated": false}``), which the Web UI sends
  to ``/codec/decode`` as well.

Found by reading every payload of the recorded histories in tests/histories (the SDK itself never
hands a worker's codec either: search attributes and markers are skipped in activations).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12


PLAIN_JSON = b"json/plain"
REFUSED_ENCODING = b"binary/refused-unsealed"
SEARCH_ATTRIBUTE_TYPES = frozenset(
    {b"Keyword", b"Text", b"Int", b"Double", b"Bool", b"Datetime", b"KeywordList"}
)
PATCH_MARKER_KEYS = frozenset({"id", "deprecated"})


class CodecError(Exception):
    """A payload could not be decrypted (unknown key, wrong key, tampered data, or not sealed)."""


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, str | int | float | bool)


def plain_payload_allowed(p: Payload) -> bool:
    """The allow-list of unsealed payloads: a search-attribute value or an SDK patch marker, by
    their exact metadata and shape. Neither can be read as a command (no object with an actor)."""
    meta = dict(p.metadata)
    if meta.get("encoding") != PLAIN_JSON:
        return False
    value = _json(p.data)
    if set(meta) == {"encoding", "type"} and meta["type"] in SEARCH_ATTRIBUTE_TYPES:
        return _scalar(value) or (isinstance(value, list) and all(_scalar(v) for v in value))
    if set(meta) == {"encoding"} and isinstance(value, dict) and set(value) == PATCH_MARKER_KEYS:
        return isinstance(value["id"], str) and isinstance(value["deprecated"], bool)
    return False


def is_refused(p: Payload) -> bool:
    """An unsealed payload that decoding refused (see the module docstring)."""
    return p.metadata.get("encoding", b"") == REFUSED_ENCODING


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
                out.append(
                    p if plain_payload_allowed(p) else Payload(metadata={"encoding": REFUSED_ENCODING})
                )
                continue
            kid = p.metadata.get(KEY_ID, b"").decode()
            cipher = self._ciphers.get(kid)
            if cipher is None:
                # Said where it is seen (a worker's log): which key is missing and where it goes.
                ring = ", ".join(sorted(self._ciphers))
                raise CodecError(
                    f"payload sealed with unknown key id {kid!r}: the key ring ({ring}) lacks it;"
                    f" add it to UIFLOW_CODEC_KEYS as {kid}:<base64 32-byte key>"
                )
            try:
                plain = cipher.decrypt(p.data[:NONCE_BYTES], p.data[NONCE_BYTES:], kid.encode())
            except InvalidTag as e:
                raise CodecError(f"payload sealed with key {kid!r} failed authentication") from e
            out.append(Payload.FromString(plain))
        return out
