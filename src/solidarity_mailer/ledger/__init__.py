"""The ledger: the database (SQLite by default) holding campaigns, runs, one row per (run, recipient),
suppressions, schedules and leases. The single source of truth about who got what.
"""
