"""Compose: turns a rendition and a recipient into an :class:`email.message.EmailMessage` (headers, text and
HTML alternatives, unsubscribe link and token, DKIM). Takes a Rendition and a Recipient; hands on bytes.
"""
