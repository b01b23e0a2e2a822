"""Signals the archive sends; child apps (dedup, retention) subscribe to them.

`asset_ingested` is sent after the transaction that created a new asset commits, with
`asset` and `in_process` (True when the caller computes follow-up work itself, as the
ingest command does, so receivers need not enqueue background tasks).
"""

from django.dispatch import Signal

asset_ingested = Signal()
