"""The applicant key: an HMAC of the ID number. It identifies a person across cases (workflow
ids, the read model, duplicate checks) without ever carrying the number itself."""

from __future__ import annotations

import hashlib
import hmac

from core.settings import Settings


def applicant_key(settings: Settings, id_number: str) -> str:
    mac = hmac.new(settings.applicant_key_secret.encode(), id_number.strip().upper().encode(), hashlib.sha256)
    return mac.hexdigest()[:24]
