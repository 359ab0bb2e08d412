"""Finding a person without keeping their name or ID number in plain text: keyed hashes (HMAC)
of the normalised name and of the ID number's last four characters with the birth date, and the
short readable case number (150102-20261130-0001) that is read out over the phone.

Why keyed hashes: the read model must answer "which cases does 张三 have" at the counter, yet a
copy of the database alone must not tell who anyone is. An HMAC under a key the database does
not hold answers the first and not the second. The full ID number needs nothing new: the
applicant key (``core/applicant.py``) is already its HMAC."""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from datetime import date, datetime

from core.settings import Settings
from models.case import local_date

#: Short case number: region, business date, sequence of that region and day.
SHORT_NO_RE = re.compile(r"^(\d{6})-(\d{8})-(\d{4,6})$")
ID_TAIL_RE = re.compile(r"^\d{3}[\dX]$")
_SEPARATORS = re.compile(r"[\s·•・.\-_]+")


def _key(settings: Settings) -> bytes:
    if settings.search_key_secret:
        return settings.search_key_secret.encode()
    # Derived, domain-separated: never the applicant key's own secret.
    return hmac.new(
        settings.applicant_key_secret.encode(), b"uiflow/person-search/v1", hashlib.sha256
    ).digest()


def _mac(settings: Settings, purpose: str, value: str) -> str:
    return hmac.new(_key(settings), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()[:32]


def normalise_name(name: str) -> str:
    """张 三, 张三 and full-width letters are one name; the middle dot of Mongolian and other
    transcribed names (巴特尔·那顺) and spaces are dropped; Latin letters are upper case."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", name)).upper()


def name_key(settings: Settings, name: str) -> str | None:
    norm = normalise_name(name)
    return _mac(settings, "name", norm) if norm else None


def tail_key(settings: Settings, tail: str, birth: date) -> str | None:
    """The last four characters of the ID number (check character included) with the birth date."""
    t = tail.strip().upper()
    if not ID_TAIL_RE.match(t):
        return None
    return _mac(settings, "tail", f"{birth:%Y%m%d}{t}")


def tail_key_of_id(settings: Settings, id_number: str) -> str | None:
    """The same key from a full 18-character ID number (birth date at positions 7-14)."""
    n = id_number.strip().upper()
    if len(n) != 18:
        return None
    try:
        birth = date(int(n[6:10]), int(n[10:12]), int(n[12:14]))
    except ValueError:
        return None
    return tail_key(settings, n[-4:], birth)


def short_prefix(region_code: str, received_at: datetime) -> str:
    """Region and business day (Asia/Shanghai) of a case's short number."""
    return f"{region_code}-{local_date(received_at):%Y%m%d}"


def short_no(prefix: str, seq: int) -> str:
    return f"{prefix}-{seq:04d}"


def mask_name(name: str) -> str:
    """张三丰 -> 张**: what the read model keeps and lists show."""
    n = name.strip()
    if not n or "*" in n:
        return n
    return n[:1] + "*" * (len(n) - 1)
