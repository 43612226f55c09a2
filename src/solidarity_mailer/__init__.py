"""solidarity-mailer: schedule and send a resolution as a responsive email to mailing lists."""

__version__ = "0.1.0"
