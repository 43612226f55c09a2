"""Fixtures shared by the transport tests: a TLS certificate for 127.0.0.1, and aiosmtpd with or without
PIPELINING."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.smtpserver import RecordingHandler, make_certificate, smtp_server


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(params=[True, False], ids=["pipelining", "one-by-one"])
def smtpd(request: pytest.FixtureRequest) -> Iterator[tuple[object, RecordingHandler]]:
    """aiosmtpd on 127.0.0.1, offering PIPELINING or not."""
    with smtp_server(RecordingHandler(pipelining=request.param)) as pair:
        yield pair
