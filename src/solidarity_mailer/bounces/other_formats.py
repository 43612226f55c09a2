"""Bounces in formats other than a well-formed RFC 3464 report, read by flufl.bounce (Mailman 3's detectors).

flufl.bounce knows qmail, Exchange, GroupWise, Yahoo, AOL, older sendmail and Postfix, X.400 gateways and
a dozen more families, and tells final failures from delay warnings; it gives the addresses only. The
status code comes from the report's own text when it has one: a final failure whose code is transient
(``#4.4.1`` queue expired, ``4.2.2`` mailbox full) stays a transient (soft) failure, as RFC 3463's class
says, so one full mailbox never suppresses an address at once. Without a code, a final failure is
``5.0.0`` and a warning ``4.0.0``.
"""

from __future__ import annotations

import logging
from email.message import Message

from flufl.bounce import all_failures

from solidarity_mailer.bounces.free_text import deciding_code, diagnostic_line
from solidarity_mailer.bounces.verdict import RecipientStatus

# A detector that trips over a hostile message logs its traceback before raising; we report the message
# as not understood instead, so the traceback must not reach the terminal (logging's last-resort handler).
_LOG = logging.getLogger("flufl.bounce")
_LOG.addHandler(logging.NullHandler())
_LOG.propagate = False


def _address(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace").strip().strip("<>").strip().lower()
    return text if "@" in text and "\ufffd" not in text else ""


def detected_statuses(msg: Message, report: str) -> list[RecipientStatus]:
    """The failures flufl.bounce finds in ``msg`` (``report``: its text before the returned copy); [] if none."""
    try:
        temporary, permanent = all_failures(msg)
    except Exception:  # a detector's bug on odd input: this reader has nothing to say, the next one tries
        return []
    code = deciding_code(report)
    out: list[RecipientStatus] = []
    for raw in sorted(permanent):
        address = _address(raw)
        if address:
            status = code or "5.0.0"
            out.append(RecipientStatus(address, status, "failed", diagnostic_line(report, code)))
    for raw in sorted(temporary - permanent):
        address = _address(raw)
        if address:
            status = code if code.startswith("4") else "4.0.0"
            out.append(RecipientStatus(address, status, "delayed", diagnostic_line(report, status)))
    return out
