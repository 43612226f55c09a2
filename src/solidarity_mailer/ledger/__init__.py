"""The ledger: the database (SQLite by default) holding campaigns, runs, one row per (run, recipient),
suppressions, schedules and leases. The single source of truth about who got what.

Takes campaigns, runs, recipients to enqueue and state transitions (from deliver, schedule, bounces and the
faces); hands on delivery rows to send, counts and problems for `status`, and the suppression list.
"""
