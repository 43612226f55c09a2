"""Bounces: reads returned mail from a Maildir or mbox. A bounce changes state only when it is authenticated
(a valid signed VERP tag for the address, or the Message-ID of a message we sent to it): a hard bounce suppresses
the address, soft bounces are counted and suppress at a limit; delivery rows are left as they are. Mailed
unsubscribe requests suppress too. Takes a mailbox; hands on counts of what changed.
"""
