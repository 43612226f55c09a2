"""Web: the preview app for operators and the public one-click unsubscribe endpoint (Starlette apps).

Takes HTTP requests (and the ledger's web versions); hands on pages, suppressions written to the ledger, and the
static archive of sent campaigns.
"""
