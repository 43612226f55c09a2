"""Compose: turns a rendition and a recipient into the message's bytes (headers, text and HTML alternatives,
unsubscribe link and token, DKIM) and its envelope (a signed VERP return path when a bounce address is set).
Takes a Rendition and a Recipient; hands on bytes.
"""
