"""Real `solidarity-mailer` server processes for tests: started, awaited until they answer, then stopped."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx


def cli_command() -> list[str]:
    """The installed console script, or ``python -m solidarity_mailer.cli`` when it is not installed."""
    script = Path(sys.executable).with_name("solidarity-mailer")
    return [str(script)] if script.exists() else [sys.executable, "-m", "solidarity_mailer.cli"]


@contextmanager
def served(args: list[str], ready_url: str, *, env: Mapping[str, str] | None = None, cwd: Path | None = None,
           timeout: float = 20) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``solidarity-mailer ARGS`` until ``ready_url`` answers 200; SIGTERM (then SIGKILL) at the end."""
    proc = subprocess.Popen([*cli_command(), *args], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                raise RuntimeError(f"{args[0]} exited with {proc.returncode}: {out}")
            try:
                if httpx.get(ready_url, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{args[0]} did not answer {ready_url} within {timeout:.0f} s")
            time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
