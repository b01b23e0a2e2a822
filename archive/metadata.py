"""Read a catalogue metadata CSV for ingest: one row per file, matched by path or name."""

import csv
import os
from dataclasses import dataclass
from datetime import date

from archive.errors import ArchiveError
from archive.ingest import EntryMetadata

COLUMNS = {
    "path",
    "title",
    "description",
    "accession_number",
    "creator",
    "date_start",
    "date_end",
    "subjects",
    "published",
}
TRUE_WORDS = {"1", "true", "yes", "y"}
FALSE_WORDS = {"0", "false", "no", "n", ""}


@dataclass(frozen=True)
class MetadataTable:
    """Rows keyed by path as written in the CSV; bad rows keep their error message."""

    rows: dict[str, EntryMetadata]
    errors: dict[str, str]

    def lookup(self, path: str) -> tuple[EntryMetadata | None, str]:
        """Match a file by its path as given, its path relative to a root, or its filename."""
        candidates = [os.path.normpath(path), os.path.basename(path)]
        for key in self.rows.keys() | self.errors.keys():
            if os.path.normpath(path).endswith(os.sep + os.path.normpath(key)):
                candidates.append(key)
        for key in candidates:
            if key in self.errors:
                return None, self.errors[key]
            if key in self.rows:
                return self.rows[key], ""
        return None, ""


def _date(value: str, column: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValueError(f"{column} '{value}' is not a date (YYYY-MM-DD)") from exc


def _published(value: str) -> bool | None:
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return None if word == "" else False
    raise ValueError(f"published '{value}' is not yes or no")


def _row_metadata(row: dict) -> EntryMetadata:
    return EntryMetadata(
        title=(row.get("title") or "").strip(),
        description=(row.get("description") or "").strip(),
        accession_number=(row.get("accession_number") or "").strip(),
        creator=(row.get("creator") or "").strip(),
        date_start=_date(row.get("date_start") or "", "date_start"),
        date_end=_date(row.get("date_end") or "", "date_end"),
        subjects=[s.strip() for s in (row.get("subjects") or "").split(";") if s.strip()],
        published=_published(row.get("published") or ""),
    )


def metadata_table_read(*, path: str) -> MetadataTable:
    """Parse the CSV at path; a missing path column or unreadable file is an ArchiveError."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or "path" not in reader.fieldnames:
                raise ArchiveError(f"{path}: the metadata CSV needs a 'path' column.")
            unknown = set(reader.fieldnames) - COLUMNS
            if unknown:
                raise ArchiveError(f"{path}: unknown columns {', '.join(sorted(unknown))}.")
            rows, errors = {}, {}
            for number, row in enumerate(reader, start=2):
                key = os.path.normpath((row.get("path") or "").strip())
                try:
                    rows[key] = _row_metadata(row)
                except ValueError as exc:
                    errors[key] = f"metadata row {number}: {exc}"
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ArchiveError(f"{path}: cannot read the metadata CSV ({exc}).") from exc
    return MetadataTable(rows=rows, errors=errors)
