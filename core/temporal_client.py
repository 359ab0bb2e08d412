"""The one factory for Temporal clients: API, worker, CLI, tests and the replayer all use it,
so every one of them speaks the same data converter (pydantic + AES-GCM codec + encoded
failure attributes, so error messages are encrypted too)."""

from __future__ import annotations

import dataclasses

from temporalio.client import Client, TLSConfig
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.runtime import Runtime

from core.codec import AesGcmCodec
from core.settings import Settings


def make_data_converter(
    settings: Settings | None = None, *, codec: AesGcmCodec | None = None
) -> DataConverter:
    if codec is None:
        assert settings is not None
        keys, active = settings.codec_keyring()
        codec = AesGcmCodec(keys, active)
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def make_codec(settings: Settings) -> AesGcmCodec:
    keys, active = settings.codec_keyring()
    return AesGcmCodec(keys, active)


async def connect_client(settings: Settings, *, runtime: Runtime | None = None) -> Client:
    tls: TLSConfig | bool = False
    if settings.temporal_tls_cert and settings.temporal_tls_key:
        tls = TLSConfig(
            client_cert=settings.temporal_tls_cert.read_bytes(),
            client_private_key=settings.temporal_tls_key.read_bytes(),
            server_root_ca_cert=settings.temporal_tls_ca.read_bytes() if settings.temporal_tls_ca else None,
        )
    elif settings.temporal_api_key:
        tls = True
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=make_data_converter(settings),
        tls=tls,
        api_key=settings.temporal_api_key,
        runtime=runtime,
    )
