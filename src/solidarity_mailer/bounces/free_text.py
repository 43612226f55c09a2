"""Free-text bounces read by their SMTP replies and enhanced status codes (RFC 3463): the fallback reader.

Used for what neither the RFC 3464 reading nor flufl.bounce understands (Exchange's "Remote Server returned
'550 5.1.1 …'", a qmail "failure notice" naming only ``554``), and to find the status code of a bounce that
flufl.bounce read (it gives addresses only). Only the report is read, the text *before* the copy of the
returned message, so the copy's own headers are never mistaken for a status.
"""

from __future__ import annotations

import re

from solidarity_mailer.bounces.verdict import RecipientStatus

STATUS = r"[245]\.\d{1,3}\.\d{1,3}"
SMTP_AND_STATUS = re.compile(rf"(?<![\d.])([45]\d\d)[ -]#?({STATUS})(?![\d.])")
BARE_SMTP = re.compile(r"(?:^|[\s:'\"(])([45][0-5]\d)(?:[ :-](?=\D)|$)", re.MULTILINE)
_MARKED_STATUS = re.compile(rf"(?:#|status:?\s*|\()({STATUS})(?![\d.])", re.IGNORECASE)
_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
BOUNCE_SENDER = re.compile(r"mailer-daemon|postmaster|mail delivery (?:subsystem|system)", re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered mail|delivery status notification|mail delivery failed|returned mail|"
    r"failure notice|delivery failure|could not be delivered|non.?delivery|delivery has failed|"
    r"warning: message .* delayed|delayed mail|mail delivery delayed",
    re.IGNORECASE,
)
BOUNCE_BODY = re.compile(
    r"created automatically by mail delivery software|delivery to the following recipients? failed|"
    r"could not be delivered|couldn't be delivered|wasn't delivered|delivery has failed|"
    r"I'm afraid I wasn't able to deliver|this is the qmail-send program|permanent error|"
    r"has not yet been delivered|delivery (?:is )?delayed|will (?:keep trying|retry)",
    re.IGNORECASE,
)
_PERMANENT_TEXT = re.compile(r"permanent(?:ly)? (?:error|failure|fatal)|failed permanently|does not exist|"
                             r"user unknown|no such user|address not found|recipient not found", re.IGNORECASE)
TEMPORARY_TEXT = re.compile(r"temporar(?:y|ily)|has not yet been delivered|delayed|will (?:keep trying|retry)|"
                            r"mailbox (?:is )?full|over quota|quota exceeded", re.IGNORECASE)


def looks_like_bounce(sender: str, subject: str, report: str) -> bool:
    """A mailer-daemon sender, a bounce subject or bounce wording in the report."""
    return bool(BOUNCE_SENDER.search(sender) or _BOUNCE_SUBJECT.search(subject) or BOUNCE_BODY.search(report))


def status_codes(report: str) -> list[str]:
    """The enhanced status codes of a report, most explicit first: ``550 5.1.1``, then ``#5.1.1``, then ``550``."""
    codes = [m.group(2) for m in SMTP_AND_STATUS.finditer(report) if m.group(1)[0] == m.group(2)[0]]
    codes = codes or _MARKED_STATUS.findall(report)
    codes = codes or [f"{c[0]}.0.0" for c in BARE_SMTP.findall(report)]
    return [c for c in codes if c[0] in "45"]


def deciding_code(report: str) -> str:
    """The code that decides a report: its first permanent (5.x.x) code, else its first transient one, else ""."""
    codes = status_codes(report)
    return next((c for c in codes if c[0] == "5"), codes[0] if codes else "")


def diagnostic_line(report: str, status: str) -> str:
    """The report's first line holding ``status``, whitespace collapsed, at most 300 characters."""
    line = next((ln.strip() for ln in report.splitlines() if status and status in ln), "")
    return " ".join(line.split())[:300]


def text_statuses(report: str, exclude: set[str]) -> list[RecipientStatus]:
    """The status of a free-text bounce and the first address it names (none of ``exclude``)."""
    status = deciding_code(report)
    if not status:
        if _PERMANENT_TEXT.search(report):
            status = "5.0.0"
        elif TEMPORARY_TEXT.search(report):
            status = "4.0.0"
        else:
            return []
    addresses = [a.lower() for a in _ADDRESS.findall(report) if a.lower() not in exclude]
    addresses = [a for a in addresses if not BOUNCE_SENDER.search(a.split("@")[0])]
    action = "failed" if status[0] == "5" or not TEMPORARY_TEXT.search(report) else "delayed"
    return [RecipientStatus(addresses[0] if addresses else "", status, action, diagnostic_line(report, status))]
