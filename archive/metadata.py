"""Read a catalogue metadata CSV for ingest: one row per file, matched by path or name.

A bad value costs its field, never the file: each row keeps the values that parse and
the reasons for the ones that did not, and `entry_metadata_check` drops what the
catalogue itself would refuse (too long, an accession number already taken, an end
before the start). A row is matched by the longest path that ends the file's own path,
so `sub/a.jpg` wins over `a.jpg`; rows no file asked for are listed by `unmatched`.
"""

import csv
import dataclasses
import os
from dataclasses import dataclass, field
from datetime import date

from django.core.exceptions import ValidationError

from archive.errors import ArchiveError
from archive.ingest import EntryMetadata
from archive.models import CatalogueEntry

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
# Checked by the catalogue's own field validation (lengths, types), one field at a time.
CHECKED_FIELDS = ("title", "description", "accession_number", "creator", "subjects")


@dataclass(frozen=True)
class MetadataRow:
    """One CSV row: its line number, its path key, what parsed, and why the rest did not."""

    number: int
    key: str
    metadata: EntryMetadata
    problems: tuple[str, ...] = ()


@dataclass
class MetadataTable:
    """Rows keyed by normalised path; `notes` are rows that could not be used at all."""

    name: str
    rows: dict[str, MetadataRow]
    notes: list[str] = field(default_factory=list)
    used: set[str] = field(default_factory=set)

    def lookup(self, path: str) -> MetadataRow | None:
        """The row whose path is the longest ending of path (the whole path, then shorter)."""
        normal = os.path.normpath(path)
        parts = normal.split(os.sep)
        candidates = [normal] + [os.path.join(*parts[i:]) for i in range(1, len(parts))]
        for key in candidates:
            if key in self.rows:
                self.used.add(key)
                return self.rows[key]
        return None

    def unmatched(self) -> list[MetadataRow]:
        """Rows no looked-up file matched, in CSV order."""
        return sorted(
            (row for key, row in self.rows.items() if key not in self.used),
            key=lambda row: row.number,
        )


def _date(value: str, column: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValueError(f"{column} '{value.strip()[:80]}' is not a date (YYYY-MM-DD)") from exc


def _published(value: str, column: str) -> bool | None:
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return None if word == "" else False
    raise ValueError(f"{column} '{value.strip()[:80]}' is not yes or no")


def _text(value: str, column: str) -> str:
    return value.strip()


def _subjects(value: str, column: str) -> list[str]:
    return [s.strip() for s in value.split(";") if s.strip()]


PARSERS = {
    "title": _text,
    "description": _text,
    "accession_number": _text,
    "creator": _text,
    "date_start": _date,
    "date_end": _date,
    "subjects": _subjects,
    "published": _published,
}


def _row_parse(number: int, key: str, row: dict) -> MetadataRow:
    """Parse every column on its own: a value that does not parse leaves its default."""
    values, problems = {}, []
    for column, parse in PARSERS.items():
        raw = row.get(column)
        if not isinstance(raw, str):
            continue  # the column is absent, or csv padded a short row with None
        try:
            values[column] = parse(raw, column)
        except ValueError as exc:
            problems.append(str(exc))
    return MetadataRow(number, key, EntryMetadata(**values), tuple(problems))


def _reset(metadata: EntryMetadata, name: str) -> EntryMetadata:
    default = EntryMetadata()
    return dataclasses.replace(metadata, **{name: getattr(default, name)})


def entry_metadata_check(*, metadata: EntryMetadata) -> tuple[EntryMetadata, list[str]]:
    """Drop each field the catalogue would refuse, with the reason; keep all the others."""
    problems = []
    if metadata.date_start and metadata.date_end and metadata.date_end < metadata.date_start:
        problems.append(f"date_end {metadata.date_end} is before date_start")
        metadata = _reset(metadata, "date_end")
    number = metadata.accession_number
    if number and CatalogueEntry.objects.filter(accession_number=number).exists():
        problems.append(f"accession_number '{number[:80]}' is already another entry's")
        metadata = _reset(metadata, "accession_number")
    entry = CatalogueEntry(**{name: getattr(metadata, name) for name in CHECKED_FIELDS})
    entry.title = entry.title or "untitled"  # an empty title falls back to the file's name
    try:
        entry.clean_fields(
            exclude=[f.name for f in CatalogueEntry._meta.fields if f.name not in CHECKED_FIELDS]
        )
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            if name in CHECKED_FIELDS:
                problems.append(f"{name}: {' '.join(messages)}")
                metadata = _reset(metadata, name)
    return metadata, problems


def metadata_table_read(*, path: str) -> MetadataTable:
    """Parse the CSV at path; a missing path column or unreadable file is an ArchiveError."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or "path" not in reader.fieldnames:
                raise ArchiveError(f"{path}: the metadata CSV needs a 'path' column.")
            unknown = {str(name) for name in reader.fieldnames} - COLUMNS
            if unknown:
                raise ArchiveError(f"{path}: unknown columns {', '.join(sorted(unknown))}.")
            table = MetadataTable(name=os.path.basename(path), rows={})
            for number, row in enumerate(reader, start=2):
                _table_add(table, number, row)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ArchiveError(f"{path}: cannot read the metadata CSV ({exc}).") from exc
    return table


def _table_add(table: MetadataTable, number: int, row: dict) -> None:
    given = row.get("path")
    given = given.strip() if isinstance(given, str) else ""
    if not given:
        table.notes.append(f"{table.name} row {number}: no path; not used")
        return
    key = os.path.normpath(given)
    if key in table.rows:
        earlier = table.rows[key].number
        table.notes.append(
            f"{table.name} row {number} repeats the path of row {earlier}; row {earlier} not used"
        )
    table.rows[key] = _row_parse(number, key, row)
