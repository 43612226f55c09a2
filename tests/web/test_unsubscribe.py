"""The public unsubscribe endpoint, through a real uvicorn process and a real HTTP client (httpx)."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
from sqlalchemy import create_engine, select

from solidarity_mailer.compose.unsubscribe_tokens import make_token
from solidarity_mailer.ledger.schema import suppressions
from tests.webserver import WebServer, web_server

LIST_ID = "example.lists.example.org"  # recipients/example.toml: name = "Example supporters"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    with web_server(tmp_path_factory.mktemp("web") / "web.db") as srv:
        yield srv


@pytest.fixture
def client(server: WebServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, follow_redirects=False, timeout=10) as c:
        yield c


def rows(server: WebServer, address: str | None = None) -> list[tuple[str, str, str]]:
    """The suppression rows as (address, scope, reason), read from the server's database file."""
    engine = create_engine(server.database_url)
    try:
        query = select(suppressions.c.address, suppressions.c.scope, suppressions.c.reason)
        if address is not None:
            query = query.where(suppressions.c.address == address)
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(query)]  # type: ignore[misc]
    finally:
        engine.dispose()


def assert_safe(response: httpx.Response) -> None:
    """The headers every answer carries, and what none may carry."""
    assert "set-cookie" not in response.headers
    assert "location" not in response.headers
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src" not in csp
    assert "server" not in response.headers


def test_get_and_head_never_unsubscribe(server: WebServer, client: httpx.Client) -> None:
    token = make_token(server.secret, LIST_ID, "Scanner.Victim@example.org")
    for _ in range(2):
        page = client.get(f"/u/{token}")
        assert page.status_code == 200, page.text
        assert_safe(page)
        assert page.headers["content-type"].startswith("text/html")
        text = unescape(page.text)
        assert "Example supporters" in text and "s•••m@example.org" in text
        assert "scanner.victim" not in text.lower()  # masked
        assert '<html lang="en" dir="ltr">' in page.text and 'name="viewport"' in page.text
        assert re.search(r'<form method="post" action="[^"]+/confirm">', page.text)
    head = client.head(f"/u/{token}")
    assert head.status_code == 200 and head.content == b""
    assert_safe(head)
    assert rows(server, "scanner.victim@example.org") == []


def test_one_click_post_suppresses_at_once_and_is_idempotent(server: WebServer, client: httpx.Client) -> None:
    token = make_token(server.secret, LIST_ID, "Alice.Oneclick@Example.org")
    response = client.post(f"/u/{token}", data=ONE_CLICK)
    assert response.status_code == 200, response.text
    assert_safe(response)
    assert response.text == "Unsubscribed.\n"
    assert rows(server, "alice.oneclick@example.org") == [("alice.oneclick@example.org", LIST_ID, "unsubscribed")]
    again = client.post(f"/u/{token}", data=ONE_CLICK)
    assert again.status_code == 200
    assert len(rows(server, "alice.oneclick@example.org")) == 1
    page = client.get(f"/u/{token}")
    assert "You are unsubscribed" in page.text and "<form" not in page.text


def test_one_click_as_multipart_form_data(server: WebServer, client: httpx.Client) -> None:
    """RFC 8058 says the POST SHOULD be multipart/form-data; urlencoded MAY be used."""
    token = make_token(server.secret, LIST_ID, "multi@example.org")
    response = client.post(f"/u/{token}", files={"List-Unsubscribe": (None, "One-Click")})
    assert response.request.headers["content-type"].startswith("multipart/form-data")
    assert response.status_code == 200, response.text
    assert rows(server, "multi@example.org") == [("multi@example.org", LIST_ID, "unsubscribed")]


@pytest.mark.parametrize(
    ("body", "status"),
    [({}, 400), ({"List-Unsubscribe": "Yes"}, 400), ({"list-unsubscribe": "One-Click"}, 400),
     ({"x": "y" * 5000}, 413)],
    ids=["empty", "wrong-value", "wrong-case-key", "oversized"],
)
def test_post_without_the_one_click_body_is_refused(server: WebServer, client: httpx.Client, body: dict,
                                                    status: int) -> None:
    token = make_token(server.secret, LIST_ID, "not.by.accident@example.org")
    response = client.post(f"/u/{token}", data=body)
    assert response.status_code == status
    assert_safe(response)
    assert rows(server, "not.by.accident@example.org") == []


def _bad_tokens(secret: bytes) -> dict[str, str]:
    good = make_token(secret, LIST_ID, "target@example.org")
    version, _payload, mac = good.split(".")

    def payload(list_id: str, address: str) -> str:
        return base64.urlsafe_b64encode(f"{list_id}\0{address}".encode()).rstrip(b"=").decode()

    return {
        "forged": make_token(b"an attacker's guessed secret!!", LIST_ID, "target@example.org"),
        "truncated-1": good[:-1],
        "truncated-half": good[: len(good) // 2],
        "truncated-no-mac": f"{version}.{payload(LIST_ID, 'target@example.org')}",
        "other-list": f"{version}.{payload('other.lists.example.org', 'target@example.org')}.{mac}",
        "other-address": f"{version}.{payload(LIST_ID, 'someone.else@example.org')}.{mac}",
        "bit-flipped": good[:-3] + ("A" if good[-3] != "A" else "B") + good[-2:],
        "garbage": "not-a-token",
    }


@pytest.mark.parametrize("kind", list(_bad_tokens(b"x" * 16)))
def test_bad_tokens_get_a_clear_404_and_change_nothing(server: WebServer, client: httpx.Client, kind: str) -> None:
    token = _bad_tokens(server.secret)[kind]
    before = rows(server)
    for response in (
        client.get(f"/u/{token}"),
        client.post(f"/u/{token}", data=ONE_CLICK),
        client.post(f"/u/{token}/confirm", data=ONE_CLICK),
    ):
        assert response.status_code == 404, (kind, response.status_code)
        assert_safe(response)
        assert "This link is not valid" in response.text
    assert rows(server) == before


def test_confirm_flow(server: WebServer, client: httpx.Client) -> None:
    token = make_token(server.secret, LIST_ID, "bob.confirm@example.net")
    page = client.get(f"/u/{token}")
    form = re.search(r'<form method="post" action="([^"]+)">(.*?)</form>', page.text, re.S)
    assert form is not None
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(2)))
    action = urljoin(str(page.url), unescape(form.group(1)))
    assert rows(server, "bob.confirm@example.net") == []
    done = client.post(action, data=fields)
    assert done.status_code == 200, done.text
    assert_safe(done)
    assert "You are unsubscribed" in done.text and "Example supporters" in done.text
    assert rows(server, "bob.confirm@example.net") == [("bob.confirm@example.net", LIST_ID, "unsubscribed")]


def test_html_is_escaped(server: WebServer, client: httpx.Client) -> None:
    evil = "x@<script>alert(1)</script>.example"
    token = make_token(server.secret, "<b>evil</b>", evil)
    page = client.get(f"/u/{token}")
    assert page.status_code == 200
    assert "<script>" not in page.text and "<b>evil" not in page.text
    assert "&lt;script&gt;" in page.text and "&lt;b&gt;evil&lt;/b&gt;" in page.text


def test_health_unknown_paths_and_methods(server: WebServer, client: httpx.Client) -> None:
    health = client.get("/healthz")
    assert health.status_code == 200 and health.text == "ok\n"
    for path in ("/", "/preview", "/u/", "/static/x.css", "/u/a/b/c"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert_safe(response)
    token = make_token(server.secret, LIST_ID, "methods@example.org")
    for method in ("PUT", "DELETE", "PATCH"):
        response = client.request(method, f"/u/{token}")
        assert response.status_code == 405
        assert_safe(response)
    assert rows(server, "methods@example.org") == []


def test_unsubscribe_survives_a_restart(tmp_path: Path) -> None:
    """The suppression is in the database file at once, not in the process."""
    db = tmp_path / "restart.db"
    with web_server(db) as srv:
        token = make_token(srv.secret, LIST_ID, "durable@example.org")
        assert httpx.post(f"{srv.base_url}/u/{token}", data=ONE_CLICK).status_code == 200
    with web_server(db) as srv:
        assert "You are unsubscribed" in httpx.get(f"{srv.base_url}/u/{token}").text


@pytest.mark.browser
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_pages_in_chromium_phone_width_csp_and_button(server: WebServer, scheme: str) -> None:
    """In a real browser at 375 px: the CSP admits our one style block (and nothing else is needed), the
    page fits without horizontal scrolling, text and button are readable, and the button unsubscribes."""
    from tests.browser import COLORS_JS, OVERFLOW_JS, chromium, contrast

    address = f"browser.{scheme}@example.org"
    token = make_token(server.secret, LIST_ID, address)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 375, "height": 700}, color_scheme=scheme)  # type: ignore[arg-type]
        violations: list[str] = []
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(f"{server.base_url}/u/{token}")
        button = page.get_by_role("button", name="Unsubscribe")
        assert button.is_visible()
        box = button.bounding_box()
        assert box is not None and box["height"] >= 44  # a comfortable touch target
        assert page.evaluate("getComputedStyle(document.querySelector('main')).borderTopWidth") == "6px"
        layout = page.evaluate(OVERFLOW_JS)
        assert layout["scrollWidth"] <= layout["vw"] and layout["right"] <= layout["vw"] + 0.5, layout
        for sample in page.evaluate(COLORS_JS, "p, h1, button"):
            assert contrast(sample["fg"], sample["bg"]) >= 4.5, (scheme, sample)
        assert rows(server, address) == []
        button.click()
        page.wait_for_selector("text=You are unsubscribed")
        assert violations == []
    assert rows(server, address) == [(address, LIST_ID, "unsubscribed")]


def test_token_for_a_list_id_that_is_not_valid_leaves_every_list(server: WebServer, client: httpx.Client) -> None:
    """compose/message.py falls back to the campaign id when a recipient has no list id; the person still gets out."""
    token = make_token(server.secret, "peru-solidarity-2023", "no.list@example.org")
    assert client.post(f"/u/{token}", data=ONE_CLICK).status_code == 200
    assert rows(server, "no.list@example.org") == [("no.list@example.org", "*", "unsubscribed")]
