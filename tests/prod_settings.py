"""One set of production settings that passes every prod guard (core/settings.py), for the tests
that take one setting away at a time: a guard added later is added here once, not in each test."""

from __future__ import annotations

from typing import Any

from tests.conftest import TEST_KEY

PROD_OK: dict[str, Any] = {
    "mode": "prod",
    "database_url": "postgresql+asyncpg://x/y",
    "codec_keys": f"k:{TEST_KEY}",
    "jwt_secret": "j" * 40,
    "applicant_key_secret": "a" * 40,
    "callback_keys_registration": "r1:" + "r" * 40,
    "callback_keys_demand_platform": "d1:" + "d" * 40,
    "callback_keys_hotline": "h1:" + "h" * 40,
    # the systems that push stop events (issue 14)
    "callback_keys_contributions": "c1:" + "c" * 40,
    "callback_keys_insurance_record": "i1:" + "i" * 40,
    "callback_keys_civil_affairs": "m1:" + "m" * 40,
    "callback_keys_cross_province": "x1:" + "x" * 40,
    "applicant_oidc_issuer": "https://idp.example.gov.cn",
    "public_base_url": "https://uiflow.example.gov.cn",
}
