"""The archive's REST endpoints: thin views that validate input and call the services.

assets: list, retrieve (replaced assets point at their canonical), upload (idempotent).
records: catalogue entries and licences (saved through `record_save`), licence comparison
and sign-off. holds: place, release, list. audit: events, streamed export, verification.
"""
