"""Render: Jinja2 + premailer, once per campaign, into a :class:`Rendition` (inlined HTML, text, subject) with
placeholders that the compose stage fills cheaply per recipient. Takes a Campaign and a Resolution; hands on
:class:`Renditions` (one per language).
"""
