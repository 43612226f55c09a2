"""Where the project's files live: the working project folder, or the starter project shipped in the package.

The starter project (``solidarity_mailer/starter/``: ``solidarity-mailer.toml``, ``templates/``,
``campaigns/``, ``recipients/``) is package data, read with :mod:`importlib.resources`, so it is there in an
installed wheel as in a checkout. ``solidarity-mailer init`` copies it; commands run outside any project use it.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from solidarity_mailer.errors import MailerError

STARTER_PACKAGE_FOLDER = "starter"
_SKIPPED = {"__pycache__", "__init__.py"}


def starter_files() -> Iterator[tuple[str, Traversable]]:
    """Each file of the shipped starter project as (path relative to the project, ``/``-separated; resource)."""

    def walk(folder: Traversable, prefix: str) -> Iterator[tuple[str, Traversable]]:
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name in _SKIPPED:
                continue
            if entry.is_dir():
                yield from walk(entry, f"{prefix}{entry.name}/")
            else:
                yield f"{prefix}{entry.name}", entry

    yield from walk(files("solidarity_mailer") / STARTER_PACKAGE_FOLDER, "")


@functools.cache
def starter_project() -> Path:
    """The shipped starter project as a folder: in place when the package is on disk, else (a zipped
    package) extracted once into a temporary folder removed at exit."""
    shipped = files("solidarity_mailer") / STARTER_PACKAGE_FOLDER
    if isinstance(shipped, Path):
        return shipped
    folder = Path(tempfile.mkdtemp(prefix="solidarity-mailer-starter-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    write_starter_project(folder)
    return folder


def write_starter_project(dest: Path) -> list[Path]:
    """Write the starter project into ``dest`` (created if missing); returns the files written.

    Writes nothing and raises :class:`MailerError` when any of those files already exists.
    """
    if dest.exists() and not dest.is_dir():
        raise MailerError("not a folder; nothing was written", where=dest, hint="name a new or empty folder")
    targets = [(dest.joinpath(*rel.split("/")), resource) for rel, resource in starter_files()]
    taken = [path for path, _ in targets if path.exists() or path.is_symlink()]
    if taken:
        others = f" (and {len(taken) - 1} more of the starter files)" if len(taken) > 1 else ""
        raise MailerError(f"already exists{others}; nothing was written", where=taken[0],
                          hint="name a new or empty folder")
    try:
        for path, resource in targets:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("xb") as fh:  # "x": never overwrite, not even a file created since the check
                fh.write(resource.read_bytes())
    except OSError as exc:
        raise MailerError(f"cannot write the starter project: {exc.strerror or exc}",
                          where=exc.filename or dest) from None
    return [path for path, _ in targets]


def project_root(start: Path | None = None) -> Path:
    """The project folder: the first of the working directory (or ``start``) and its parents that has
    ``templates/`` and ``campaigns/``, else the shipped starter project."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "templates").is_dir() and (candidate / "campaigns").is_dir():
            return candidate
    return starter_project()


def templates_dir(start: Path | None = None) -> Path:
    """The folder with the Jinja2 templates."""
    return project_root(start) / "templates"


def child_command(module: str) -> list[str]:
    """``python -P -m module``: a helper process of ours (``-P``: the working directory, which may hold a
    user's ``email.py`` or ``jinja2.py``, is not put ahead of the standard library)."""
    return [sys.executable, "-P", "-m", module]


def child_environment() -> dict[str, str]:
    """The environment for :func:`child_command`: this one, plus the folder this package was imported from
    on ``PYTHONPATH`` when the child could not import it otherwise (a checkout put on ``sys.path`` by hand)."""
    env = dict(os.environ)
    package_parent = str(Path(__file__).resolve().parents[1])
    if package_parent not in (str(Path(p).resolve()) for p in sys.path if p):
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), package_parent]))
    return env
