"""Where the project's shipped files live (templates, campaigns, recipients)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: The source checkout root when installed with ``pip install -e .`` (src layout).
CHECKOUT_ROOT = Path(__file__).resolve().parents[2]


def project_root(start: Path | None = None) -> Path:
    """The project folder: the working directory if it has ``templates/``, else the source checkout."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "templates").is_dir() and (candidate / "campaigns").is_dir():
            return candidate
    return CHECKOUT_ROOT


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
