"""Content: the resolution itself (title, date, source, paragraphs, demands, slogans, signatories), its TOML
file and the plain-text importer. Takes files; hands on a :class:`Resolution`.
"""
