"""Identity checks: the 18-digit resident identity number (GB 11643-1999, ISO 7064 MOD 11-2
check digit) and the unified social credit code (GB 32100-2015, MOD 31 check character).

Pure functions; they never see a clock: a caller that knows the business day passes it as
``today``, and a number whose birth date lies after it is refused (nobody is born tomorrow).
A person's number keeps the division code of where it was issued, which may be a division since
abolished, so only the province-level prefix is checked against the list of provinces; the full
six digits are returned for the caller to use.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

# GB/T 2260 province-level codes (first two digits of every division code).
PROVINCE_CODES: dict[str, str] = {
    "11": "北京市",
    "12": "天津市",
    "13": "河北省",
    "14": "山西省",
    "15": "内蒙古自治区",
    "21": "辽宁省",
    "22": "吉林省",
    "23": "黑龙江省",
    "31": "上海市",
    "32": "江苏省",
    "33": "浙江省",
    "34": "安徽省",
    "35": "福建省",
    "36": "江西省",
    "37": "山东省",
    "41": "河南省",
    "42": "湖北省",
    "43": "湖南省",
    "44": "广东省",
    "45": "广西壮族自治区",
    "46": "海南省",
    "50": "重庆市",
    "51": "四川省",
    "52": "贵州省",
    "53": "云南省",
    "54": "西藏自治区",
    "61": "陕西省",
    "62": "甘肃省",
    "63": "青海省",
    "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区",
    "71": "台湾省",
    "81": "香港特别行政区",
    "82": "澳门特别行政区",
}

_CC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CC_VALUE = {c: i for i, c in enumerate(_CC_CHARS)}


class IdentityError(ValueError):
    """An identity number or code is malformed. ``code`` is stable; ``message_zh`` is for staff."""

    def __init__(self, code: str, message_zh: str) -> None:
        super().__init__(f"{code}: {message_zh}")
        self.code = code
        self.message_zh = message_zh


@dataclass(frozen=True)
class ResidentId:
    number: str
    region: str
    birth: date
    sex: Literal["male", "female"]


def resident_id_check_char(first17: str) -> str:
    if len(first17) != 17 or not first17.isdigit():
        raise IdentityError("id.format", "身份证号码前17位必须为数字")
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def parse_resident_id(number: str, *, today: date | None = None) -> ResidentId:
    """Validate an 18-digit resident ID and return what it encodes; raise ``IdentityError``.
    With ``today``, a birth date after it is refused too."""
    n = number.strip().upper()
    if len(n) != 18:
        raise IdentityError("id.length", "身份证号码应为18位")
    if not n[:17].isdigit() or not (n[17].isdigit() or n[17] == "X"):
        raise IdentityError("id.format", "身份证号码格式不正确：前17位为数字，末位为数字或X")
    if n[:2] not in PROVINCE_CODES:
        raise IdentityError("id.region", "身份证号码的地区码不正确")
    try:
        birth = date(int(n[6:10]), int(n[10:12]), int(n[12:14]))
    except ValueError as e:
        raise IdentityError("id.birth", "身份证号码中的出生日期不存在") from e
    if birth.year < 1900:
        raise IdentityError("id.birth", "身份证号码中的出生日期不合理")
    if today is not None and birth > today:
        raise IdentityError("id.birth_future", "身份证号码中的出生日期晚于今天，号码无效")
    if resident_id_check_char(n[:17]) != n[17]:
        raise IdentityError("id.checksum", "身份证号码校验位不正确，请核对")
    sex: Literal["male", "female"] = "male" if int(n[16]) % 2 == 1 else "female"
    return ResidentId(number=n, region=n[:6], birth=birth, sex=sex)


def is_valid_resident_id(number: str, *, today: date | None = None) -> bool:
    try:
        parse_resident_id(number, today=today)
    except IdentityError:
        return False
    return True


def make_resident_id(region: str, birth: date, sequence: int) -> str:
    """Build a valid number (for synthetic populations and tests). ``sequence`` 0..999; its
    parity gives the sex (odd male, even female)."""
    if len(region) != 6 or not region.isdigit():
        raise IdentityError("id.region", "地区码应为6位数字")
    if not 0 <= sequence <= 999:
        raise IdentityError("id.sequence", "顺序码应在0到999之间")
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return first17 + resident_id_check_char(first17)


def credit_code_check_char(first17: str) -> str:
    if len(first17) != 17 or any(c not in _CC_VALUE for c in first17):
        raise IdentityError("credit_code.format", "统一社会信用代码含有不允许的字符")
    total = sum(_CC_VALUE[c] * w for c, w in zip(first17, _CC_WEIGHTS, strict=True))
    return _CC_CHARS[(31 - total % 31) % 31]


def validate_credit_code(code: str) -> str:
    """Validate a unified social credit code; return it normalised (upper case)."""
    c = code.strip().upper()
    if len(c) != 18:
        raise IdentityError("credit_code.length", "统一社会信用代码应为18位")
    if any(ch not in _CC_VALUE for ch in c):
        raise IdentityError("credit_code.format", "统一社会信用代码含有不允许的字符（不使用I、O、Z、S、V）")
    if not c[2:8].isdigit() or c[2:4] not in PROVINCE_CODES:
        raise IdentityError("credit_code.region", "统一社会信用代码中的登记管理机关行政区划码不正确")
    if credit_code_check_char(c[:17]) != c[17]:
        raise IdentityError("credit_code.checksum", "统一社会信用代码校验位不正确，请核对")
    return c


def is_valid_credit_code(code: str) -> bool:
    try:
        validate_credit_code(code)
    except IdentityError:
        return False
    return True


def make_credit_code(region: str, serial: int, *, authority: str = "9", kind: str = "1") -> str:
    """Build a valid credit code (for synthetic employers and tests)."""
    body = f"{authority}{kind}{region}{serial:09d}"[:17]
    body = "".join(ch if ch in _CC_VALUE else "0" for ch in body)
    return body + credit_code_check_char(body)


def mask_resident_id(number: str) -> str:
    """What staff see by default: region and check digit only."""
    n = number.strip()
    return n[:6] + "********" + n[-4:] if len(n) == 18 else "*" * len(n)


def mask_phone(phone: str) -> str:
    p = phone.strip()
    return p[:3] + "****" + p[-4:] if len(p) >= 11 else "*" * len(p)
