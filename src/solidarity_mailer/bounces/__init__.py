"""Bounces: reads delivery status notifications from a Maildir or mbox and turns them into ledger state
(failed rows, suppressions). Takes a mailbox; hands on counts of what changed.
"""
