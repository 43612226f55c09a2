"""The audience: reads the CSV mailing lists, validates and de-duplicates addresses, and drops suppressed
ones. Takes list files (and the suppressed keys per List-Id); hands on a stream of :class:`Recipient`.
"""
