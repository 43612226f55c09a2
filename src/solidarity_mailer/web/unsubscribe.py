"""The public unsubscribe app (Starlette, served by uvicorn): RFC 8058 one-click and a confirmation page.

Routes, and nothing else (this app is meant to face the internet; the preview app is separate):

- ``POST /u/{token}`` with the form body ``List-Unsubscribe=One-Click`` (urlencoded or multipart, as
  mailbox providers send it): suppresses at once, answers 200 with a short text, no redirect, no cookie.
- ``GET /u/{token}`` (and HEAD): a page naming the list and the (masked) address with a button. It never
  unsubscribes by itself: link scanners and previewers fetch every URL in a message.
- ``POST /u/{token}/confirm``: the button's target; suppresses and shows a confirmation page.
- ``GET /v/{campaign}/{lang}.html``: a sent campaign's web version, the mails' "View in browser" link
  (``web/archive.py``).
- ``GET /healthz``: ``ok``.

The token is the only credential (``compose/unsubscribe_tokens.py``): forged, truncated or moved tokens get a
404 page. The pages speak the language of the token's recipient (the ``lang`` of their latest row in the
ledger, ``ledger/languages.py``; English when there is none). The suppression is scoped to the token's list
(``*`` when the list has no id) and written before the answer leaves, so a campaign in progress skips the
address from its next message on. A body larger than :data:`MAX_BODY` gets a 413. ``web/server.py`` runs the
app under uvicorn.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import parse_qsl

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from solidarity_mailer.audience.lists import load_list_meta
from solidarity_mailer.compose.unsubscribe_tokens import Subscription, verify_token
from solidarity_mailer.errors import MailerError
from solidarity_mailer.i18n import translations
from solidarity_mailer.ledger import suppressions as suppression
from solidarity_mailer.ledger.languages import recipient_language
from solidarity_mailer.paths import project_root
from solidarity_mailer.web import pages as webpages
from solidarity_mailer.web.archive import web_version_routes

log = logging.getLogger("solidarity_mailer.web.unsubscribe")

#: The largest request body read; a one-click body is 26 bytes, a multipart one a few hundred.
MAX_BODY = 4096
SECURITY_HEADERS: dict[str, str] = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": webpages.CSP,
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "X-Robots-Tag": "noindex, nofollow",
}


class SecurityHeaders:
    """ASGI middleware adding :data:`SECURITY_HEADERS` to every HTTP response (errors included) that does not set
    its own (``Pragma: no-cache`` not beside a response's own ``Cache-Control``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"set-cookie"]
                present = {k.lower() for k, _ in headers}
                if b"cache-control" in present:  # a page that may be cached (a web version) says so alone
                    present.add(b"pragma")
                for name, value in SECURITY_HEADERS.items():
                    if name.lower().encode() not in present:
                        headers.append((name.lower().encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status)


def _invalid() -> HTMLResponse:
    return _html(
        webpages.error_page(
            "This link is not valid",
            "This unsubscribe link is damaged or was not made by us. Mail programs sometimes cut long links: "
            "open the link from the email again, or reply to the email and ask to be removed.",
        ),
        404,
    )


async def _form(request: Request) -> dict[str, str] | None:
    """The request's form fields, read with a size cap; None when the body is malformed (or the client went
    away), a 413 when it is larger than :data:`MAX_BODY`."""
    declared = request.headers.get("content-length")
    if declared is not None and not declared.isdigit():
        return None
    if declared is not None and int(declared) > MAX_BODY:
        raise HTTPException(413)
    body = b""
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise HTTPException(413)
    except ClientDisconnect:
        return None
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        try:
            form = await Request(request.scope, replay).form(max_files=0, max_fields=16)
        except HTTPException:
            return None
        return {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        return dict(parse_qsl(body.decode("utf-8"), max_num_fields=16))
    except ValueError:
        return None


class UnsubscribeApp:
    """The endpoint handlers, bound to a database and a secret."""

    def __init__(self, engine: Engine, secret: bytes, list_name: Callable[[str], str]) -> None:
        self.engine = engine
        self.secret = secret
        self.list_name = list_name

    def _subscription(self, request: Request) -> Subscription | None:
        return verify_token(self.secret, request.path_params["token"])

    def _add(self, sub: Subscription, detail: str) -> str:
        """Write the suppression (:func:`~solidarity_mailer.ledger.suppressions.unsubscribe`); returns its scope."""
        return suppression.unsubscribe(self.engine, sub, detail=detail)[0]

    def _language(self, sub: Subscription) -> str:
        """The language of the token's recipient, as the ledger has it ("en" when it has none)."""
        return recipient_language(self.engine, sub.address, sub.list_id) or "en"

    async def _suppress(self, sub: Subscription, detail: str, lang: str = "en") -> Response | None:
        """Suppress at once; an error page when the token's address cannot be stored (never a traceback)."""
        try:
            scope = await run_in_threadpool(self._add, sub, detail)
        except MailerError as exc:
            log.warning("unsubscribe refused: %s", exc.line())
            t = translations(lang)
            return _html(webpages.error_page(t.gettext("This link cannot be used"),
                                             t.gettext("Reply to the email to be removed."), lang=lang), 400)
        log.info("unsubscribed %s from %s (%s)", webpages.mask_address(sub.address), scope, detail)
        return None

    def _state(self, sub: Subscription) -> tuple[bool, str]:
        return suppression.is_suppressed(self.engine, sub.address, sub.list_id), self._language(sub)

    async def show(self, request: Request) -> Response:
        """GET/HEAD: the confirmation page; changes nothing."""
        sub = self._subscription(request)
        if sub is None:
            return _invalid()
        already, lang = await run_in_threadpool(self._state, sub)
        name = self.list_name(sub.list_id)
        return _html(webpages.confirm_page(request.path_params["token"], name, sub.address, already=already,
                                           lang=lang))

    async def one_click(self, request: Request) -> Response:
        """POST: RFC 8058 one-click; the body must say ``List-Unsubscribe=One-Click``."""
        sub = self._subscription(request)
        if sub is None:
            return _invalid()
        form = await _form(request)
        if form is None or form.get("List-Unsubscribe") != "One-Click":
            return PlainTextResponse("400 expected the form body List-Unsubscribe=One-Click (RFC 8058)\n", 400)
        return await self._suppress(sub, "one-click (RFC 8058)") or PlainTextResponse("Unsubscribed.\n")

    async def confirm(self, request: Request) -> Response:
        """POST from the page's button: suppress and show the confirmation page."""
        sub = self._subscription(request)
        if sub is None:
            return _invalid()
        await _form(request)  # drain the body; the token alone authorises
        lang = await run_in_threadpool(self._language, sub)
        failed = await self._suppress(sub, "confirmed on the web page", lang)
        return failed or _html(webpages.done_page(self.list_name(sub.list_id), sub.address, lang=lang))

    async def healthz(self, request: Request) -> Response:
        return PlainTextResponse("ok\n")


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's HTTP errors (unknown path, wrong method…) as our small page, with the same headers."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        return _html(webpages.error_page("Page not found", "There is nothing at this address."), 404)
    if status == 405:
        return _html(webpages.error_page("Method not allowed", "This address only accepts GET and POST."), 405)
    if status == 413:
        return _html(webpages.error_page("Request too large", "This address only takes a short form."), 413)
    return _html(webpages.error_page("Bad request", "The request could not be understood."), status)


def create_app(
    engine: Engine, secret: bytes, list_names: Mapping[str, str] | Callable[[str], str] | None = None
) -> ASGIApp:
    """The public unsubscribe app. ``list_names`` maps a list id to the name shown to people."""
    if list_names is None:
        names: Mapping[str, str] = {}
    elif callable(list_names):
        lookup = list_names
    else:
        names = list_names
    if not callable(list_names):

        def lookup(list_id: str) -> str:
            return names.get(list_id) or list_id or "our mailing lists"

    handlers = UnsubscribeApp(engine, secret, lookup)
    routes = [
        Route("/u/{token}", handlers.show, methods=["GET", "HEAD"]),
        Route("/u/{token}", handlers.one_click, methods=["POST"]),
        Route("/u/{token}/confirm", handlers.confirm, methods=["POST"]),
        Route("/healthz", handlers.healthz, methods=["GET", "HEAD"]),
        *web_version_routes(engine),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    return SecurityHeaders(app)


def list_names(recipients_dir: Path | None = None) -> dict[str, str]:
    """``{list_id: display name}`` from the lists' metadata (``recipients/*.toml`` beside each CSV)."""
    folder = recipients_dir or project_root() / "recipients"
    names: dict[str, str] = {}
    for csv_path in sorted(folder.glob("*.csv")):
        try:
            meta = load_list_meta(csv_path)
        except MailerError as exc:
            log.warning("list metadata skipped: %s", exc.line())
            continue
        names[meta.list_id] = meta.name
    return names
