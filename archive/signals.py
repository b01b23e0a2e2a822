"""Signals the archive sends; child apps (dedup, retention) subscribe to them.

- `asset_analysed(fp, probe)`: sent while a new file is read, before any database work
  and possibly in a worker process. Receivers return a picklable dict (for example a
  fingerprint) that travels with the analysis.
- `asset_ingested(asset, analysis, background, actor)`: sent inside the transaction that
  creates a new asset. Receivers may return a dict of findings (for example
  {"possible_duplicates": [...]}) that the ingest reports to its caller. With background
  True they may queue follow-up work instead of doing it now.
"""

from django.dispatch import Signal

asset_analysed = Signal()
asset_ingested = Signal()
