"""Where the project's shipped files live (templates, campaigns, recipients)."""

from __future__ import annotations

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
