"""Render a campaign ONCE, here or in a short-lived child process.

A run renders its campaign once (once per language: :class:`Renditions`), then only fills in placeholders. The
rendering stack (Jinja2, premailer, cssutils, lxml, Babel and the requests library premailer loads) takes ~30
MB that, once imported, stays resident for the whole run. :func:`render_apart` renders in a child (``python -m
solidarity_mailer.render.once``, the campaign and list paths pickled on its stdin, the :class:`Renditions` or
the user's mistake pickled back on its stdout), so the sending process never loads that stack. A process that
has loaded it anyway (the preview, the tests) renders in place: nothing is left to save.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from solidarity_mailer.campaign import Campaign
from solidarity_mailer.errors import MailerError
from solidarity_mailer.paths import child_command, child_environment
from solidarity_mailer.render.rendition import Renditions

_STACK = "solidarity_mailer.render.templates"  # the module that loads Jinja2 and premailer


def common_columns(lists: Iterable[Path]) -> list[str]:
    """The extra CSV columns every one of ``lists`` has (what ``recipient.fields`` offers templates)."""
    from solidarity_mailer.audience.lists import extra_columns

    common: dict[str, str] | None = None
    for path in lists:
        found = {c.lower(): c for c in extra_columns(path)}
        common = found if common is None else {k: v for k, v in common.items() if k in found}
    return list((common or {}).values())


def render_once(campaign: Campaign, lists: Iterable[Path] = ()) -> Renditions:
    """Load the campaign's resolution and its translations and render each (Jinja + premailer) once, with
    placeholders; ``recipient.fields`` offers the extra columns every one of ``lists`` has."""
    from solidarity_mailer.content.load import load_content
    from solidarity_mailer.render.variants import render_variants

    _, resolution = load_content(campaign.resolution_path)
    return render_variants(campaign, resolution, templates_dir=campaign.templates_dir,
                           columns=common_columns(lists))


def render_apart(campaign: Campaign, lists: Sequence[Path] = ()) -> Renditions:
    """:func:`render_once` in a child process (in place if this process already has the rendering stack).

    A user's mistake is raised here as the same :class:`MailerError`; a crash of the child as one whose
    text is the last line of its error output.
    """
    if _STACK in sys.modules:
        return render_once(campaign, lists)
    # its own session: a Ctrl-C meant for the run (which stops it cleanly) must not kill the rendering
    done = subprocess.run(child_command(__name__), input=pickle.dumps((campaign, list(lists))), capture_output=True,
                          env=child_environment(), start_new_session=True, check=False)
    try:
        kind, value = pickle.loads(done.stdout)
    except Exception:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines() or [f"exit status {done.returncode}"]
        raise MailerError(f"rendering the campaign failed: {lines[-1]}", where=campaign.path) from None
    if kind == "error":
        what, where, hint = value
        raise MailerError(what, where=where, hint=hint)
    return value  # type: ignore[no-any-return]


def _child() -> None:
    """The child's side: (campaign, lists) from stdin, ("ok", Rendition) or ("error", mistake) to stdout."""
    campaign, lists = pickle.load(sys.stdin.buffer)
    try:
        result: tuple[str, object] = ("ok", render_once(campaign, lists))
    except MailerError as exc:
        result = ("error", (exc.what, exc.where, exc.hint))
    sys.stdout.buffer.write(pickle.dumps(result))


if __name__ == "__main__":  # the child: use the importable module, so the pickles name its classes
    from solidarity_mailer.render.once import _child as _run

    _run()
