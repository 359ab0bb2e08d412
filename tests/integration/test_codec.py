"""The payload codec: personal data never reaches the Temporal server's storage in plain text,
decrypts only with the right key, fails loudly otherwise, and survives a key rotation."""

from __future__ import annotations

import asyncio
import base64
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.codec import AesGcmCodec, CodecError
from core.settings import DEV_APPLICANT_SECRET, DEV_JWT_SECRET, DEV_PUBLIC_BASE_URL, Settings, parse_keyring
from tests.conftest import TEST_KEY
from tests.integration.echo_workflow import EchoWorkflow, Person, greet
from tests.prod_settings import PROD_OK

ID_NUMBER = "150102198005171237"
NAME = "乌云其其格"


async def _run_echo(env: WorkflowEnvironment) -> str:
    wid = f"codec-{uuid.uuid4().hex[:8]}"
    async with Worker(env.client, task_queue="codec-test", workflows=[EchoWorkflow], activities=[greet]):
        result = await env.client.execute_workflow(
            EchoWorkflow.run,
            Person(id_number=ID_NUMBER, name=NAME, phone="13800000000"),
            id=wid,
            task_queue="codec-test",
        )
    assert result == f"您好，{NAME}"
    return wid


async def _input_payload(env: WorkflowEnvironment, wid: str) -> Payload:
    history = await env.client.get_workflow_handle(wid).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    return started.input.payloads[0]


def _server_files(folder: Path) -> bytes:
    files = list(folder.glob("temporal-local.db*"))
    assert files, "the dev server keeps its state in the file we gave it"
    return b"".join(f.read_bytes() for f in files)


async def test_personal_data_not_in_server_database(local_env: WorkflowEnvironment, tmp_data: Path) -> None:
    wid = await _run_echo(local_env)
    raw_payload = await _input_payload(local_env, wid)
    assert raw_payload.metadata["encoding"] == b"binary/encrypted"
    assert raw_payload.metadata["encryption-key-id"] == b"t1"
    blob = await asyncio.to_thread(_server_files, tmp_data)
    assert wid.encode() in blob, "sanity: the workflow is in the server's database"
    assert ID_NUMBER.encode() not in blob
    assert NAME.encode() not in blob
    assert "您好".encode() not in blob  # the result is encrypted too


async def test_decrypts_with_right_key_fails_with_wrong_or_missing(local_env: WorkflowEnvironment) -> None:
    wid = await _run_echo(local_env)
    sealed = await _input_payload(local_env, wid)
    right = AesGcmCodec(parse_keyring(f"t1:{TEST_KEY}"), "t1")
    [plain] = await right.decode([sealed])
    assert ID_NUMBER.encode() in plain.data

    wrong = AesGcmCodec({"t1": b"w" * 32}, "t1")
    with pytest.raises(CodecError, match="failed authentication"):
        await wrong.decode([sealed])
    missing = AesGcmCodec({"t9": b"k" * 32}, "t9")
    with pytest.raises(CodecError, match=r"unknown key id 't1': the key ring \(t9\) lacks it") as e:
        await missing.decode([sealed])
    assert "add it to UIFLOW_CODEC_KEYS as t1:<base64" in str(e.value)


async def test_tampered_payload_is_refused(local_env: WorkflowEnvironment) -> None:
    wid = await _run_echo(local_env)
    sealed = await _input_payload(local_env, wid)
    tampered = Payload()
    tampered.CopyFrom(sealed)
    tampered.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(CodecError):
        await AesGcmCodec(parse_keyring(f"t1:{TEST_KEY}"), "t1").decode([tampered])


async def test_key_rotation_old_payloads_still_decrypt(local_env: WorkflowEnvironment) -> None:
    wid = await _run_echo(local_env)
    old_sealed = await _input_payload(local_env, wid)
    new_key = base64.b64encode(b"n" * 32).decode()
    rotated = Settings(mode="test", codec_keys=f"t1:{TEST_KEY},t2:{new_key}", codec_active_key="t2")
    keys, active = rotated.codec_keyring()
    codec = AesGcmCodec(keys, active)
    [plain] = await codec.decode([old_sealed])
    assert ID_NUMBER.encode() in plain.data
    [resealed] = await codec.encode([plain])
    assert resealed.metadata["encryption-key-id"] == b"t2"
    # A process that has not been given the new key cannot read what the new key sealed.
    with pytest.raises(CodecError):
        await AesGcmCodec(parse_keyring(f"t1:{TEST_KEY}"), "t1").decode([resealed])
    [again] = await codec.decode([resealed])
    assert again == plain


def test_prod_settings_refuse_unsafe_defaults() -> None:
    with pytest.raises(ValueError, match="UIFLOW_CODEC_KEYS"):
        Settings(mode="prod", database_url="postgresql+asyncpg://x/y")
    with pytest.raises(ValueError, match="UIFLOW_JWT_SECRET"):
        Settings(
            mode="prod",
            database_url="postgresql+asyncpg://x/y",
            codec_keys=f"k:{TEST_KEY}",
            applicant_key_secret="a" * 40,
        )
    ok = Settings(**PROD_OK)
    assert ok.codec_keyring()[1] == "k"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"applicant_key_secret": DEV_APPLICANT_SECRET}, "UIFLOW_APPLICANT_KEY_SECRET"),
        ({"applicant_key_secret": "a" * 31}, "UIFLOW_APPLICANT_KEY_SECRET"),
        ({"database_url": ""}, "UIFLOW_DATABASE_URL"),
        ({"jwt_secret": DEV_JWT_SECRET}, "UIFLOW_JWT_SECRET"),
        ({"jwt_secret": "j" * 31}, "UIFLOW_JWT_SECRET"),
        ({"codec_keys": ""}, "UIFLOW_CODEC_KEYS"),
        ({"search_key_secret": "s" * 31}, "UIFLOW_SEARCH_KEY_SECRET"),
        ({"public_base_url": DEV_PUBLIC_BASE_URL}, "UIFLOW_PUBLIC_BASE_URL"),
        ({"public_base_url": "http://uiflow.example.gov.cn"}, "UIFLOW_PUBLIC_BASE_URL"),
        ({"public_base_url": ""}, "UIFLOW_PUBLIC_BASE_URL"),
    ],
)
def test_each_prod_guard_refuses_alone(change: dict[str, Any], named: str) -> None:
    """Each guard on its own (the rest of the settings safe), so none can pass by another's refusal."""
    with pytest.raises(ValueError, match=named) as e:
        Settings(**{**PROD_OK, **change})
    assert str(e.value).count("UIFLOW_") == 1


def test_dev_key_generated_once_and_kept(tmp_path: Path) -> None:
    s = Settings(mode="dev", data_dir=tmp_path)
    keys1, active1 = s.codec_keyring()
    keys2, active2 = Settings(mode="dev", data_dir=tmp_path).codec_keyring()
    assert keys1 == keys2 and active1 == active2
    assert len(keys1[active1]) == 32
    assert (tmp_path / "codec-keys.json").stat().st_mode & 0o077 == 0


def test_bad_keyring_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        parse_keyring("k:" + base64.b64encode(b"short").decode())
    with pytest.raises(ValueError, match="kid:base64key"):
        parse_keyring("nocolon")
