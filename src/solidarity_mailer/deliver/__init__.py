"""Deliver: prepares a run (render once, enqueue the audience in the ledger), then claims rows and hands them to
the senders (threads of a sender process) under a rate limit and retry policy, recording each result in the
ledger. Takes a campaign and settings; hands on messages to a transport.
"""
