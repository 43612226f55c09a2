"""A real `solidarity-mailer serve` process on 127.0.0.1 and a free port, for tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from .smtpserver import free_port

SECRET = "web-test-secret-0123456789abcdef"


@dataclass(frozen=True)
class WebServer:
    """A running server: its base URL, database URL and secret."""

    base_url: str
    database_url: str
    secret: bytes


@contextmanager
def web_server(database: Path, *, cwd: Path | None = None) -> Iterator[WebServer]:
    """Start the server process, wait for /healthz, stop it (SIGTERM, then SIGKILL) at the end."""
    port = free_port()
    url = f"sqlite:///{database}"
    env = {**os.environ, "SOLIDARITY_MAILER_DATABASE": url, "SOLIDARITY_MAILER_SECRET": SECRET}
    env.pop("SOLIDARITY_MAILER_SECRET_FILE", None)
    script = Path(sys.executable).with_name("solidarity-mailer")  # the installed console script
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "solidarity_mailer.cli"]
    proc = subprocess.Popen(
        [*cmd, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                raise RuntimeError(f"serve exited with {proc.returncode}: {output}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("serve did not answer /healthz within 20 s")
            time.sleep(0.1)
        yield WebServer(base, url, SECRET.encode())
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
