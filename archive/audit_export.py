"""Export the audit trail (CSV or JSON lines) with a manifest, and verify such an export.

One code path serves the `export_audit` command and the admin download: rows are read in
chunks and written as they come, so memory stays flat at millions of events. An export
covers the events up to the chain head read when it starts, so re-running it with the
same filters and head gives the same bytes (the admin serves the file and its manifest in
two requests this way).

Each row carries every hashed field, `previous_hash` and `hash`, so a recipient can
recompute every row's own hash (an edited row no longer matches) and check the link of
every pair of consecutive sequence numbers. The manifest (written next to the export as
FILE.manifest.json) adds the filters, the row count, the chain head at export time and the
SHA-256 of the file: a removed, added or reordered row changes the file's digest, and an
unfiltered export must run from event #1 to the head without a gap. A filtered export is
not a contiguous chain, so for it the manifest is what detects a removed row; comparing
the manifest's head with `verify_audit` on the live system (or `--against-database`)
ties the export to the database it came from.
"""

import base64
import csv
import datetime as dt
import hashlib
import itertools
import json
import os
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from typing import BinaryIO

from django.db import transaction
from django.db.models import QuerySet
from django.utils import dateparse, timezone

from archive import verifier
from archive.actors import SYSTEM
from archive.audit import (
    EVENT_FIELDS,
    audit_record,
    chain_verify,
    compact_encoder,
    event_rows,
    row_hash,
)
from archive.errors import ArchiveError
from archive.models import AuditChainHead, AuditEvent, Checkpoint
from archive.moments import moment_storable

# /2: CSV cells that a spreadsheet would read as a formula carry a leading quote.
MANIFEST_FORMAT = "keepsake-audit-export/2"
MANIFEST_FORMATS_READ = {"keepsake-audit-export/1", MANIFEST_FORMAT}
FORMATS = ("csv", "jsonl")
JSON_FIELDS = ("before", "after")


@dataclass(frozen=True)
class AuditExportFilter:
    """Which events to export: created in [since, until), by actor, about an object, a verb."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    actor: str = ""
    object_type: str = ""
    object_id: str = ""
    # An exact verb, or a prefix ending in "*" ("legalhold.*").
    verb: str = ""

    @property
    def is_empty(self) -> bool:
        return not any(getattr(self, f.name) for f in fields(self))

    def as_dict(self) -> dict:
        return {
            f.name: (value.isoformat() if isinstance(value, dt.datetime) else value) or None
            for f in fields(self)
            for value in [getattr(self, f.name)]
        }


def _moment(value: str, name: str) -> dt.datetime | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        moment = dateparse.parse_datetime(value)
        if moment is None and (day := dateparse.parse_date(value)) is not None:
            moment = dt.datetime.combine(day, dt.time.min)
    except ValueError:
        moment = None
    if moment is None:
        raise ArchiveError(f"--{name}: expected a date or date and time (ISO 8601), got {value!r}.")
    return moment_storable(moment)


def audit_export_filter_parse(
    *,
    since: str = "",
    until: str = "",
    actor: str = "",
    obj: str = "",
    verb: str = "",
    strict: bool = False,
) -> AuditExportFilter:
    """Read filters as typed on a command line or a form; obj is "type" or "type:id"."""
    object_type, _, object_id = (obj or "").strip().partition(":")
    filters = AuditExportFilter(
        since=_moment(since, "since"),
        until=_moment(until, "until"),
        actor=(actor or "").strip(),
        object_type=object_type.strip(),
        object_id=object_id.strip(),
        verb=(verb or "").strip(),
    )
    # An empty or inverted range selects no event (the API answers an empty page); the
    # command refuses it, since it is almost always a typing slip there.
    if strict and filters.since and filters.until and filters.until <= filters.since:
        raise ArchiveError("--until must be later than --since.")
    return filters


def audit_export_head(*, upto: int | None = None) -> tuple[int, str]:
    """The chain head to export up to: now, or as it was when event #upto was the last."""
    head = AuditChainHead.objects.filter(pk=1).first()
    current = (head.last_sequence, head.last_hash) if head else (0, "")
    if upto is None or upto == current[0]:
        return current
    if not 0 <= upto < current[0]:
        raise ArchiveError(f"The audit trail has no event #{upto}.")
    if upto == 0:
        return 0, ""
    return upto, AuditEvent.objects.values_list("hash", flat=True).get(sequence=upto)


def audit_export_events(*, filters: AuditExportFilter, upto: int) -> QuerySet:
    """The events an export holds, in sequence order."""
    events = AuditEvent.objects.filter(sequence__lte=upto)
    if filters.since:
        events = events.filter(created_at__gte=filters.since)
    if filters.until:
        events = events.filter(created_at__lt=filters.until)
    if filters.actor:
        events = events.filter(actor_name=filters.actor)
    if filters.object_type:
        events = events.filter(object_type=filters.object_type)
    if filters.object_id:
        events = events.filter(object_id=filters.object_id)
    if filters.verb.endswith("*"):
        events = events.filter(verb__startswith=filters.verb[:-1])
    elif filters.verb:
        events = events.filter(verb=filters.verb)
    return events.order_by("sequence")


# Sorted keys, no spaces, UTF-8 as is: the export's lines (an event's hash uses ASCII).
_canonical = compact_encoder(ensure_ascii=False)


# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell_safe(value):
    """A CSV cell a spreadsheet shows as text: a leading quote before a formula trigger.

    A value that itself starts with a quote gets one more, so csv_cell_restore gives
    back the exact value (the audit export's rows are re-hashed from their cells).
    """
    if isinstance(value, str) and value.startswith((*FORMULA_TRIGGERS, "'")):
        return "'" + value
    return value


def csv_cell_restore(value: str) -> str:
    """The value csv_cell_safe was given."""
    return value[1:] if value.startswith("'") else value


class _Line:
    """A file-like object whose write() hands back the line the csv module formatted."""

    def write(self, value: str) -> str:
        return value


def _csv_line(writer, row: dict) -> str:
    return writer.writerow(
        [
            csv_cell_safe(_canonical(row[name]) if name in JSON_FIELDS else row[name])
            for name in EVENT_FIELDS
        ]
    )


def _csv_lines(rows: Iterable[dict]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(EVENT_FIELDS)
    for row in rows:
        yield _csv_line(writer, row)


def _jsonl_lines(rows: Iterable[dict]) -> Iterator[str]:
    for row in rows:  # event_rows gives exactly EVENT_FIELDS
        yield _canonical(row) + "\n"


def _lines(rows: Iterable[dict], fmt: str) -> Iterator[str]:
    if fmt not in FORMATS:
        raise ArchiveError(f"Unknown export format {fmt!r}; use one of {', '.join(FORMATS)}.")
    return _csv_lines(rows) if fmt == "csv" else _jsonl_lines(rows)


@dataclass
class AuditExportResult:
    """What an export holds; complete once its bytes have all been consumed."""

    fmt: str
    filters: AuditExportFilter
    head: tuple[int, str]
    rows: int = 0
    first_sequence: int | None = None
    last_sequence: int | None = None
    sha256: str = ""
    size: int = 0

    def manifest(self, *, file_name: str) -> dict:
        return {
            "format": MANIFEST_FORMAT,
            "file": file_name,
            "file_format": self.fmt,
            "fields": list(EVENT_FIELDS),
            "filters": self.filters.as_dict(),
            "rows": self.rows,
            "first_sequence": self.first_sequence,
            "last_sequence": self.last_sequence,
            "chain_head": {"sequence": self.head[0], "hash": self.head[1]},
            "sha256": self.sha256,
            "bytes": self.size,
            "exported_at": timezone.now().isoformat(timespec="seconds"),
            "hash_rule": (
                "sha256 of the canonical JSON (sorted keys, no spaces) of sequence, "
                "created_at, actor, verb, object_type, object_id, before, after, reason, "
                "previous_hash; see archive.audit.event_hash"
            ),
        }


def _counted(rows: Iterator[dict], result: AuditExportResult) -> Iterator[dict]:
    for row in rows:
        result.rows += 1
        result.first_sequence = result.first_sequence or row["sequence"]
        result.last_sequence = row["sequence"]
        yield row


def _digested(lines: Iterator[str], result: AuditExportResult) -> Iterator[bytes]:
    """The lines as bytes, about 64 KB at a time (a streamed response sends each chunk)."""
    digest = hashlib.sha256()
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) == 200:
            yield _chunk(batch, digest, result)
    if batch:
        yield _chunk(batch, digest, result)
    result.sha256 = digest.hexdigest()


def _chunk(batch: list[str], digest, result: AuditExportResult) -> bytes:
    chunk = "".join(batch).encode("utf-8")
    batch.clear()
    digest.update(chunk)
    result.size += len(chunk)
    return chunk


def audit_export_stream(
    *, filters: AuditExportFilter, fmt: str, upto: int | None = None, chunk_size: int = 2000
) -> tuple[Iterator[bytes], AuditExportResult]:
    """The export's bytes, line by line as events are read, and the result they fill in."""
    head = audit_export_head(upto=upto)
    result = AuditExportResult(fmt=fmt, filters=filters, head=head)
    events = audit_export_events(filters=filters, upto=head[0])
    rows = _counted(event_rows(events, chunk_size=chunk_size), result)
    return _digested(_lines(rows, fmt), result), result


def audit_export_write(
    *,
    fp: BinaryIO,
    filters: AuditExportFilter,
    fmt: str,
    upto: int | None = None,
    chunk_size: int = 2000,
) -> AuditExportResult:
    """Write an export to a binary file object and return what it holds."""
    chunks, result = audit_export_stream(filters=filters, fmt=fmt, upto=upto, chunk_size=chunk_size)
    for chunk in chunks:
        fp.write(chunk)
    return result


def manifest_path_for(path: str) -> str:
    return f"{path}.manifest.json"


def audit_export_to_file(
    *, path: str, filters: AuditExportFilter, fmt: str, actor=None, chunk_size: int = 2000
) -> tuple[AuditExportResult, str]:
    """Export to path, write the manifest next to it, and audit that the export was made."""
    with open(path, "wb") as fp:
        result = audit_export_write(fp=fp, filters=filters, fmt=fmt, chunk_size=chunk_size)
    manifest = result.manifest(file_name=os.path.basename(path))
    manifest_path = manifest_path_for(path)
    with open(manifest_path, "w", encoding="utf-8") as fp:
        json.dump(manifest, fp, indent=2, sort_keys=True)
        fp.write("\n")
    audit_exported_record(result=result, actor=actor)
    return result, manifest_path


@transaction.atomic
def audit_exported_record(*, result: AuditExportResult, actor) -> None:
    """Audit who exported which part of the trail (an export is sensitive access)."""
    audit_record(
        actor=actor,
        verb="audit.exported",
        object_type="archive.auditevent",
        object_id=result.head[0],
        after={
            "format": result.fmt,
            "filters": result.filters.as_dict(),
            "chain_head": result.head[0],
            # A streamed download is audited before its bytes exist: no count or digest yet.
            **({"rows": result.rows, "sha256": result.sha256} if result.sha256 else {}),
        },
    )


# --- Verifying an export ----------------------------------------------------------------


@dataclass
class ExportVerification:
    rows: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _file_digest(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fp:
        for block in iter(lambda: fp.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_rows(path: str, fmt: str, *, quoted: bool = True) -> Iterator[dict]:
    """The rows of an export; quoted: its CSV cells went through csv_cell_safe (format /2)."""
    restore = csv_cell_restore if quoted else str
    with open(path, encoding="utf-8", newline="") as fp:
        if fmt == "csv":
            reader = csv.DictReader(fp)
            if tuple(reader.fieldnames or ()) != EVENT_FIELDS:
                raise ArchiveError(f"unexpected CSV columns: {reader.fieldnames}")
            for raw in reader:
                row = {k: restore(v) if isinstance(v, str) else v for k, v in raw.items()}
                yield {
                    **row,
                    "sequence": int(row["sequence"]),
                    **{name: json.loads(row[name]) for name in JSON_FIELDS},
                }
        else:
            for line in fp:
                row = json.loads(line)
                yield {name: row[name] for name in EVENT_FIELDS}


def _guess_format(path: str) -> str:
    return "jsonl" if path.endswith((".jsonl", ".json", ".ndjson")) else "csv"


def _check_rows(rows: Iterator[dict], report: ExportVerification) -> tuple[int, str] | None:
    """Check each row's own hash and every consecutive link; return the last (seq, hash)."""
    previous = None
    for row in rows:
        sequence = row["sequence"]
        if previous is not None and sequence <= previous[0]:
            report.problems.append(
                f"event #{sequence} follows #{previous[0]} (rows reordered or repeated)"
            )
            return None
        if previous is not None and sequence == previous[0] + 1:
            if row["previous_hash"] != previous[1]:
                report.problems.append(f"event #{sequence} does not link to event #{previous[0]}")
                return None
        if row_hash(row) != row["hash"]:
            report.problems.append(f"event #{sequence} was altered after it was written")
            return None
        report.rows += 1
        previous = (sequence, row["hash"])
    return previous


def _intact_span(path: str, manifest: dict) -> tuple | None:
    """(rows, first, last sequence) of a file whose rows all verify on their own, else None."""
    report, seen = ExportVerification(), []

    def first_kept(rows):
        for row in rows:
            seen[:] = seen or [row["sequence"]]
            yield row

    try:
        rows = _read_rows(path, manifest.get("file_format") or _guess_format(path))
        last = _check_rows(first_kept(rows), report)
    except (ValueError, KeyError, ArchiveError):
        return None
    if not report.ok:
        return None
    return report.rows, (seen or [None])[0], last[0] if last else None


def _check_manifest(path: str, manifest: dict, report: ExportVerification) -> None:
    if manifest.get("format") not in MANIFEST_FORMATS_READ:
        report.problems.append(f"unknown manifest format {manifest.get('format')!r}")
        return
    if _file_digest(path) == manifest.get("sha256"):
        return
    described = (
        manifest.get("rows"),
        manifest.get("first_sequence"),
        manifest.get("last_sequence"),
    )
    span = _intact_span(path, manifest)
    if manifest.get("file") != os.path.basename(path) or (span is not None and span != described):
        # The file is whole but the manifest describes other rows (or another file): the
        # two were mixed up, which is not the same as a file changed after export.
        report.problems.append(
            f"the manifest belongs to another export ({manifest.get('file')}: "
            f"{manifest.get('rows')} rows, chain head #{manifest['chain_head']['sequence']})"
        )
    else:
        report.problems.append("the file's SHA-256 differs from the manifest's (file changed)")


def _check_against_manifest(
    manifest: dict, report: ExportVerification, last: tuple[int, str] | None
) -> None:
    head = manifest["chain_head"]
    if report.rows != manifest["rows"]:
        report.problems.append(
            f"the manifest lists {manifest['rows']} rows, the file has {report.rows}"
        )
    elif last is not None and last[0] > head["sequence"]:
        report.problems.append(f"event #{last[0]} is past the manifest's chain head")
    elif last is not None and last[0] == head["sequence"] and last[1] != head["hash"]:
        report.problems.append("the last event's hash differs from the manifest's chain head")


def audit_export_verify(
    *, path: str, manifest_path: str | None = None, use_manifest: bool = True
) -> ExportVerification:
    """Verify an exported file on its own: rows, links, and the manifest next to it if any."""
    report = ExportVerification()
    manifest_path = manifest_path or manifest_path_for(path)
    manifest = None
    if use_manifest and os.path.exists(manifest_path):
        with open(manifest_path, encoding="utf-8") as fp:
            manifest = json.load(fp)
        _check_manifest(path, manifest, report)
        if not report.ok:
            return report
    else:
        report.notes.append("no manifest: rows and links checked, completeness not checked")
    fmt = manifest["file_format"] if manifest else _guess_format(path)
    quoted = manifest is None or manifest["format"] == MANIFEST_FORMAT
    unfiltered = manifest is not None and not any(manifest["filters"].values())
    if unfiltered:
        # A whole-trail export is a contiguous chain: verify it exactly like the database.
        head = manifest["chain_head"]
        chain = chain_verify(
            _read_rows(path, fmt, quoted=quoted), expected_head=(head["sequence"], head["hash"])
        )
        report.rows = chain.checked
        if not chain.ok:
            report.problems.append(chain.problem.message)
        return report
    last = _check_rows(_read_rows(path, fmt, quoted=quoted), report)
    if manifest is not None and report.ok:
        _check_against_manifest(manifest, report, last)
    return report


def audit_export_compare_database(
    *, path: str, fmt: str | None = None, batch: int = 1000
) -> list[str]:
    """Problems found comparing each exported row with the stored event of its sequence."""
    if zipfile.is_zipfile(path):
        rows = audit_bundle_rows(path)
    else:
        rows = _read_rows(path, fmt or _guess_format(path))
    while chunk := {row["sequence"]: row["hash"] for row in itertools.islice(rows, batch)}:
        stored = dict(AuditEvent.objects.filter(sequence__in=chunk).values_list("sequence", "hash"))
        for sequence in sorted(chunk):
            if stored.get(sequence) != chunk[sequence]:
                return [f"event #{sequence} differs from the event stored in the database"]
    return []


# --- Export bundles: events, proofs and the signed checkpoint in one zip ---------------------


@dataclass
class AuditBundleResult:
    fmt: str
    filters: AuditExportFilter
    checkpoint: Checkpoint
    listed: int = 0
    withheld: int = 0
    events_sha256: str = ""

    @property
    def name(self) -> str:
        return f"keepsake-audit-upto-{self.checkpoint.size}.zip"


class _Members:
    """The bundle's member files, written as one pass over the log goes by."""

    def __init__(self, fmt: str, filters: dict, result: AuditBundleResult):
        import tempfile

        self.fmt, self.filters, self.result = fmt, filters, result
        self.events = tempfile.TemporaryFile()
        self.withheld = tempfile.TemporaryFile()
        self.listed = []
        self.omitted: list[tuple[int, str]] = []
        self.writer = csv.writer(_Line())
        if fmt == "csv":
            self.events.write(self.writer.writerow(EVENT_FIELDS).encode("utf-8"))

    def row(self, row: dict) -> None:
        excluded = verifier.filter_excludes(self.filters, row)
        if excluded is None:
            line = _csv_line(self.writer, row) if self.fmt == "csv" else next(_jsonl_lines([row]))
            self.events.write(line.encode("utf-8"))
            self.listed.append(row["sequence"])
            return
        stub = {name: row[name] for name in verifier.STUB_FIELDS}
        self.withheld.write((_canonical({**stub, "excluded_by": excluded}) + "\n").encode("utf-8"))
        self.omitted.append((row["sequence"], excluded))


def _copy(archive, name: str, source) -> str:
    digest = hashlib.sha256()
    source.seek(0)
    with archive.open(name, "w", force_zip64=True) as out:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
            out.write(block)
    return digest.hexdigest()


def _checkpoint_part(checkpoint: Checkpoint, tree) -> dict:
    part = {"note": checkpoint.note, "size": checkpoint.size, "root": checkpoint.root_hash}
    older = Checkpoint.objects.filter(size__lt=checkpoint.size).order_by("-size").first()
    if older is not None:
        consistency = [h.hex() for h in tree.consistency(older.size)]
        part["previous"] = {"note": older.note, "consistency": consistency}
    if checkpoint.timestamp_token:
        token = base64.b64encode(bytes(checkpoint.timestamp_token)).decode("ascii")
        part["timestamp"] = {"token": token, "authority": checkpoint.timestamp_authority}
    return part


def audit_bundle_write(
    *, fp: BinaryIO, filters: AuditExportFilter, fmt: str, actor, chunk_size: int = 5000
) -> AuditBundleResult:
    """Seal the log, then write one zip: listed events, withheld stubs, proofs, manifest.

    Anyone can check it with archive/verifier.py and the archive's public key; the
    export is audited (`audit.exported`).
    """
    from archive.checkpoints import checkpoint_seal, tree_from_log

    if fmt not in FORMATS:
        raise ArchiveError(f"Unknown export format {fmt!r}; use one of {', '.join(FORMATS)}.")
    checkpoint = checkpoint_seal(actor=actor if actor is not None else SYSTEM)
    if checkpoint is None:
        raise ArchiveError("The audit trail is empty: there is nothing to export.")
    result = AuditBundleResult(fmt=fmt, filters=filters, checkpoint=checkpoint)
    members = _Members(fmt, filters.as_dict(), result)
    tree = tree_from_log(size=checkpoint.size, chunk_size=chunk_size, on_row=members.row)
    if tree.root().hex() != checkpoint.root_hash:
        raise ArchiveError(
            f"The stored audit log no longer matches checkpoint #{checkpoint.size}: "
            "run verify_audit."
        )
    proofs = tempfile_lines(
        _canonical({"sequence": seq, "path": [h.hex() for h in tree.inclusion_path(seq - 1)]})
        for seq in members.listed
    )
    result.listed, result.withheld = len(members.listed), len(members.omitted)
    with zipfile.ZipFile(fp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        digests = {
            f"events.{fmt}": _copy(archive, f"events.{fmt}", members.events),
            "withheld.jsonl": _copy(archive, "withheld.jsonl", members.withheld),
            "proofs.jsonl": _copy(archive, "proofs.jsonl", proofs),
        }
        result.events_sha256 = digests[f"events.{fmt}"]
        manifest = _bundle_manifest(result, members, digests, _checkpoint_part(checkpoint, tree))
        manifest["statement"] = _statement(result)
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    _bundle_exported_record(result=result, actor=actor)
    return result


def _statement(result: AuditBundleResult) -> str:
    from archive.checkpoints import signing_key

    checkpoint = result.checkpoint
    body = verifier.export_statement_body(
        origin=verifier.checkpoint_parse(checkpoint.note).origin,
        size=checkpoint.size,
        root=bytes.fromhex(checkpoint.root_hash),
        filters=result.filters.as_dict(),
        fmt=result.fmt,
    )
    return body.decode("utf-8") + "\n" + signing_key().sign(body)


def tempfile_lines(lines: Iterable[str]):
    import tempfile

    out = tempfile.TemporaryFile()
    for line in lines:
        out.write((line + "\n").encode("utf-8"))
    return out


def _bundle_manifest(result: AuditBundleResult, members: _Members, digests, part) -> dict:
    omitted = verifier._ranges(members.omitted)
    rotations = Checkpoint.objects.filter(
        size__lte=result.checkpoint.size, note__contains="\npublic-key "
    ).order_by("size")
    return {
        "format": verifier.BUNDLE_FORMAT,
        "file_format": result.fmt,
        "fields": list(EVENT_FIELDS),
        "filters": result.filters.as_dict(),
        "members": digests,
        "checkpoint": part,
        "key_rotations": list(rotations.values_list("note", flat=True)),
        "summary": {
            "listed": result.listed,
            "withheld": result.withheld,
            "first_listed": members.listed[0] if members.listed else None,
            "last_listed": members.listed[-1] if members.listed else None,
            "omitted": [{"first": a, "last": b, "excluded_by": why} for a, b, why in omitted],
        },
        "exported_at": timezone.now().isoformat(timespec="seconds"),
        "how_to_verify": (
            "python verifier.py THIS.zip --public-key ARCHIVE-KEY.pem (archive/verifier.py "
            "of Keepsake: standard library and the cryptography package)"
        ),
    }


@transaction.atomic
def _bundle_exported_record(*, result: AuditBundleResult, actor) -> None:
    audit_record(
        actor=actor if actor is not None else SYSTEM,
        verb="audit.exported",
        object_type="archive.auditevent",
        object_id=result.checkpoint.size,
        after={
            "format": f"bundle/{result.fmt}",
            "filters": result.filters.as_dict(),
            "chain_head": result.checkpoint.size,
            "checkpoint": result.checkpoint.root_hash,
            "rows": result.listed,
            "withheld": result.withheld,
            "sha256": result.events_sha256,
        },
    )


def audit_bundle_verify(*, path: str, public_keys: list[bytes] | None = None, tsa_certs=None):
    """Verify a bundle with the standalone verifier; by default against this archive's keys."""
    from archive.checkpoints import previous_signing_key, signing_key

    if not public_keys:
        old = previous_signing_key()
        public_keys = [signing_key().public_raw] + ([old.public_raw] if old else [])
    return verifier.bundle_verify(path, public_keys=public_keys, tsa_certs=tsa_certs or [])


def audit_bundle_rows(path: str) -> Iterator[dict]:
    """The listed events of a bundle (for comparing them with the database)."""
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        fmt = manifest["file_format"]
        yield from verifier.rows_read(verifier._lines(archive, f"events.{fmt}"), fmt)
