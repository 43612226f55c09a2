"""The preview web app (Starlette): the mail for a sample recipient, and the local outbox, as a mail client sees them.

``/`` is one page (see :mod:`preview_page`) that shows a message at phone and desktop width, its plain
text, headers and raw source, with a light/dark switch and a language switch (a campaign with translations),
and polls ``/version`` to re-render when a template, content or translation file changes. A message is
``/preview/{part}?lang=LANG`` (the rendered FILE in one of its languages, the default without ``lang``) or
``/outbox/{name}/{part}`` (an .eml written by the capture transport), part being ``html``, ``text``,
``headers`` or ``source``.
The mail's HTML is served with a Content-Security-Policy that forbids scripts and remote loads.
"""

from __future__ import annotations

import email
import re
import threading
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from solidarity_mailer.compose.sample_mail import Sample, build_sample, fingerprint, watched_files
from solidarity_mailer.errors import MailerError
from solidarity_mailer.paths import templates_dir as default_templates_dir
from solidarity_mailer.transports.outbox import list_outbox
from solidarity_mailer.web.preview_page import PAGE

PARTS = ("html", "text", "headers", "source")
MAIL_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; base-uri 'none'"
_DARK_QUERY = re.compile(r"@media\s*\(\s*prefers-color-scheme\s*:\s*dark\s*\)", re.IGNORECASE)
_SCHEME_META = re.compile(r'(<meta\s+name="(?:color-scheme|supported-color-schemes)"\s+content=")[^"]*(")', re.I)


def force_scheme(html: str, scheme: str) -> str:
    """The HTML as a client in ``scheme`` renders it: the ``prefers-color-scheme: dark`` block always
    applies (``dark``) or never does (``light``), whatever the viewer's own setting."""
    if scheme not in ("light", "dark"):
        return html
    media = "@media all" if scheme == "dark" else "@media not all"
    return _SCHEME_META.sub(rf"\g<1>{scheme}\g<2>", _DARK_QUERY.sub(media, html))


@dataclass(frozen=True)
class MessageView:
    """One message's parts, ready to serve."""

    html: str
    text: str
    headers: list[tuple[str, str]]
    source: str


def view_of_eml(data: bytes) -> MessageView:
    """Parse an .eml as a mail client would: the HTML and text alternatives (with ``\n`` line ends),
    the headers, the source."""
    msg = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(msg, EmailMessage)

    def body(kind: str) -> str:
        part = msg.get_body(preferencelist=(kind,))
        if part is None:
            return ""
        try:
            content = part.get_content()
        except (LookupError, ValueError) as exc:
            return f"(cannot decode the {kind} part: {exc})"
        return content.replace("\r\n", "\n") if isinstance(content, str) else ""

    headers = [(name, str(value)) for name, value in msg.items()]
    return MessageView(body("html"), body("plain"), headers, data.decode("utf-8", errors="replace"))


class PreviewState:
    """The rendered FILE, re-rendered when a watched file changes; the outbox folder."""

    def __init__(self, path: Path, *, templates_dir: Path | None = None, outbox: Path = Path("outbox")) -> None:
        self.path = path
        self.templates_dir = templates_dir
        self.outbox = outbox
        self._lock = threading.Lock()
        self._version = ""
        self._sample: Sample | None = None
        self._error: MailerError | None = None

    def _watched(self) -> list[Path]:
        sample = self._sample
        if sample is not None:
            return watched_files(self.path, sample.campaign, sample.templates)
        return watched_files(self.path, None, self.templates_dir or default_templates_dir())

    def refresh(self) -> str:
        """Re-render if a watched file changed since the last render; the current version."""
        with self._lock:
            version = fingerprint(self._watched())
            if version != self._version:
                try:
                    self._sample, self._error = build_sample(self.path, templates_dir=self.templates_dir), None
                except MailerError as exc:
                    self._error = exc
                version = fingerprint(self._watched())  # the campaign may name other files now
                self._version = version
            return version

    @property
    def error(self) -> MailerError | None:
        return self._error

    def languages(self) -> list[str]:
        """The languages of the current sample, the default first (none when the last render failed)."""
        sample = self._sample
        return list(sample.mails) if sample is not None and self._error is None else []

    def view(self, lang: str = "") -> MessageView | None:
        """The current sample mail's parts in ``lang`` (the default when it has no such language; None when the
        last render failed)."""
        self.refresh()
        sample = self._sample
        if sample is None or self._error is not None:
            return None
        mail = sample.mails.get(lang, sample.default)
        headers = [(name, str(value)) for name, value in mail.message.items()]
        return MessageView(mail.html, mail.text, headers, mail.eml.decode("utf-8", errors="replace"))

    def outbox_files(self) -> list[Path]:
        """The .eml files in the outbox, newest first."""
        return list_outbox(self.outbox)


def _part_response(view: MessageView, part: str, scheme: str) -> Response:
    if part == "html":
        return HTMLResponse(force_scheme(view.html, scheme), headers={"Content-Security-Policy": MAIL_CSP})
    if part == "text":
        return PlainTextResponse(view.text)
    if part == "headers":
        return JSONResponse([list(h) for h in view.headers])
    return PlainTextResponse(view.source)


def create_app(path: Path, *, templates_dir: Path | None = None, outbox: Path = Path("outbox")) -> Starlette:
    """The preview app for FILE; serve it on 127.0.0.1 only."""
    state = PreviewState(path, templates_dir=templates_dir, outbox=outbox)

    async def page(request: Request) -> Response:
        return HTMLResponse(PAGE)

    def version(request: Request) -> Response:
        current = state.refresh()
        files = state.outbox_files()
        error = state.error
        return JSONResponse({
            "version": current,
            "error": error.line() if error else None,
            "file": str(path),
            "outbox": str(outbox),
            "outbox_version": fingerprint(files),
            "languages": state.languages(),
        })

    def preview_part(request: Request) -> Response:
        part = request.path_params["part"]
        if part not in PARTS:
            return PlainTextResponse("unknown part", status_code=404)
        view = state.view(request.query_params.get("lang", ""))
        if view is None:
            error = state.error
            return PlainTextResponse(f"error: {error.line() if error else 'not rendered'}", status_code=500)
        return _part_response(view, part, request.query_params.get("scheme", ""))

    def outbox_list(request: Request) -> Response:
        rows = []
        for file in state.outbox_files():
            with file.open("rb") as fh:
                head = email.message_from_bytes(fh.read(64 * 1024), policy=policy.default)
            rows.append({"name": file.name, "size": file.stat().st_size, "subject": str(head.get("Subject", "")),
                         "to": str(head.get("To", "")), "date": str(head.get("Date", ""))})
        return JSONResponse(rows)

    def outbox_part(request: Request) -> Response:
        name, part = request.path_params["name"], request.path_params["part"]
        files = {p.name: p for p in state.outbox_files()}
        if part not in PARTS or name not in files:
            return PlainTextResponse("not found", status_code=404)
        view = view_of_eml(files[name].read_bytes())
        return _part_response(view, part, request.query_params.get("scheme", ""))

    # Rendering and file reads block: the sync endpoints run in Starlette's thread pool.
    routes = [
        Route("/", page),
        Route("/version", version),
        Route("/preview/{part}", preview_part),
        Route("/outbox", outbox_list),
        Route("/outbox/{name}/{part}", outbox_part),
    ]
    # Only loopback names: a web page elsewhere cannot reach the preview through DNS rebinding.
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost"])]
    return Starlette(routes=routes, middleware=middleware)
