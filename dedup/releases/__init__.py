"""Versioned clean-dataset releases: OCFL objects or BagIt bags with an RO-Crate and a notice.

A release publishes, for a set of collections, one file per live asset: after a
consolidation every record of a confirmed group points at its canonical, so each group
contributes exactly its canonical file, and every record that is no one's duplicate
contributes its own. Only files whose records all allow reuse go in; the rest are listed
with the reason. `services.dataset_release` records the release (a `DatasetRelease` row
and an audit event carrying the manifest's SHA-256) and writes the files after the
transaction, from the row alone, so the same row always gives the same bytes.
"""
