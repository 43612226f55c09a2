"""Schedule: schedules and their recurrences, the misfire rule that turns due occurrences into runs, and the
daemon (APScheduler 3) that fires them under a lease. Takes schedules from the ledger; hands on runs to deliver.
"""
