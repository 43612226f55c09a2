"""A scripted SMTP server on 127.0.0.1 for replies no real server gives (aiosmtpd refuses DATA without a
recipient, never says 252 to RCPT or 250 to DATA, never answers garbage): each command's reply comes from a
script."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

# A reply: a line (CRLF added), raw bytes sent as they are (b"": say nothing, wait for the client), chunks of
# bytes sent one after another until the client hangs up, or None to close the connection.
Reply = str | bytes | Iterable[bytes] | None
# script(command) -> the reply; "<eom>" is the end of a message
Script = Callable[[str], Reply]


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


def answering(**replies: Reply) -> Script:
    """``usual`` replies, except for the commands (by their first words, ``RCPT TO:<x@y>`` included) given."""

    def reply(command: str) -> Reply:
        for start, answer in replies.items():
            if command.upper().startswith(start.replace("_", " ").upper()):
                return answer
        return usual(command)

    return reply


def _answer(conn: socket.socket, reply: Reply) -> bool:
    """Send ``reply``; False when the connection is to be closed (the script says so, or the client hung up)."""
    if reply is None:
        return False
    chunks = [reply.encode("ascii") + b"\r\n"] if isinstance(reply, str) else [reply] if isinstance(
        reply, bytes) else reply
    try:
        for chunk in chunks:
            conn.sendall(chunk)
    except OSError:
        return False
    return True


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
            if not _answer(conn, reply):
                return
            if isinstance(reply, str) and reply.startswith("354"):
                body = b""
                while (data := lines.readline()) != b".\r\n":
                    if not data:
                        return  # the client hung up before the final dot: no message
                    body += data
                seen.bodies.append(body)
                seen.commands.append("<body>")
                if not _answer(conn, script("<eom>")):
                    return


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
