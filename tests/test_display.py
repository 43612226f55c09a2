"""The one function that makes text from outside safe to print (issue 12, hole 9)."""

from __future__ import annotations

import pytest

from solidarity_mailer.display import visible


@pytest.mark.parametrize(("raw", "shown"), [
    ("550 \x1b]0;owned\x07 no", "550 \\x1b]0;owned\\x07 no"),  # OSC: set the window title
    ("a\x1b[2Jb", "a\\x1b[2Jb"),  # CSI: clear the screen
    ("over\rwrite", "over\\x0dwrite"),
    ("\x00\x08\x0b\x0c\x1f\x7f", "\\x00\\x08\\x0b\\x0c\\x1f\\x7f"),
    ("C1 \x9b2J \x85", "C1 \\x9b2J \\x85"),
    ("line 1\n\tline 2", "line 1\n\tline 2"),  # newline and tab stay
    ("Solidarité, Ayşe, 团结, emoji 🌹", "Solidarité, Ayşe, 团结, emoji 🌹"),
])
def test_control_characters_are_shown_not_sent(raw: str, shown: str) -> None:
    assert visible(raw) == shown
