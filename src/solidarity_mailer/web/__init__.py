"""Web: the preview app for operators and the public one-click unsubscribe endpoint (Starlette apps).
"""
