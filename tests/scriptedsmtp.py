"""A scripted SMTP server on 127.0.0.1 for replies no real server gives (aiosmtpd refuses DATA without a
recipient, never says 252 to RCPT or 250 to DATA): each command's reply comes from a script."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

# script(command) -> the reply line, or None to close the connection; "<eom>" is the end of a message
Script = Callable[[str], str | None]


@dataclass
class Scripted:
    """What the server saw: every command line (and "<body>" for each message taken), connections opened."""

    port: int
    commands: list[str] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    connections: int = 0


def usual(command: str) -> str | None:
    """A plain server: accepts every command (even DATA after refused RCPTs: a script says otherwise)."""
    verb = command.split(" ", 1)[0].upper()
    return {"DATA": "354 go on", "QUIT": "221 bye"}.get(verb, "250 ok")


def _serve_one(conn: socket.socket, script: Script, seen: Scripted) -> None:
    with conn, conn.makefile("rb") as lines:
        conn.sendall(b"220 scripted\r\n")
        while line := lines.readline():
            command = line.decode("ascii", "replace").strip()
            seen.commands.append(command)
            if command.upper().startswith("EHLO"):
                conn.sendall(b"250-scripted\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
                continue
            reply = script(command)
            if reply is None:
                return
            conn.sendall(reply.encode("ascii") + b"\r\n")
            if reply.startswith("354"):
                body = b""
                while (data := lines.readline()) not in (b".\r\n", b""):
                    body += data
                seen.bodies.append(body)
                seen.commands.append("<body>")
                if (reply := script("<eom>")) is None:
                    return
                conn.sendall(reply.encode("ascii") + b"\r\n")


@contextmanager
def scripted_server(script: Script = usual) -> Iterator[Scripted]:
    """Serve ``script`` on 127.0.0.1 (a free port) for the duration of the block; PIPELINING offered."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen = Scripted(listener.getsockname()[1])

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            seen.connections += 1
            threading.Thread(target=_serve_one, args=(conn, script, seen), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield seen
    finally:
        listener.close()
