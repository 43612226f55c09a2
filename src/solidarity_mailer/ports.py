"""Ports for the servers we start (capture, preview, unsubscribe): a free one, and whether one can be bound."""

from __future__ import annotations

import socket


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def check_bindable(host: str, port: int) -> None:
    """Raise ``OSError`` when ``host:port`` cannot be bound the way asyncio and uvicorn bind it
    (``SO_REUSEADDR``: a port left in TIME_WAIT by a server just stopped is free)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
