#!/usr/bin/env python3
"""Verify a Keepsake audit export without Keepsake: standard library plus `cryptography`.

    python verifier.py keepsake-audit-upto-N.zip --public-key keepsake-audit.pem \
        [--tsa-cert tsa.pem]

An export bundle (a zip) holds the listed events (`events.csv` or `events.jsonl`), a stub
for every event the export's filter left out (`withheld.jsonl`: sequence, hash and the
fields filters look at, never before/after/reason), one RFC 9162 inclusion proof per
listed event (`proofs.jsonl`) and `manifest.json` with the filter and the archive's
signed checkpoint: the size and root hash of the Merkle tree over every event of the log,
signed with the archive's Ed25519 key (C2SP signed-note format), optionally with an
RFC 3161 timestamp token over the checkpoint.

The verifier recomputes every listed event's hash and every chain link (across withheld
stubs too), checks that every sequence number from 1 to the checkpoint's size is either
listed or withheld exactly once, that listed events match the filter and withheld ones do
not, rebuilds the Merkle root from all of them, checks each inclusion proof, the
signature (following key rotations recorded in the bundle), the consistency proof from
the previous checkpoint and the timestamp token. Any edit, deletion, insertion,
reordering or truncation changes a hash, a root or a sequence and is reported.

Keepsake itself imports this module (archive.verifier): `manage.py verify_audit --file`
and the seal run exactly this code.
"""

from __future__ import annotations

import argparse
import base64
import csv
import datetime as dt
import hashlib
import io
import json
import sys
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

BUNDLE_FORMAT = "keepsake-audit-bundle/1"
EVENT_FIELDS = (
    "sequence",
    "created_at",
    "actor_name",
    "verb",
    "object_type",
    "object_id",
    "before",
    "after",
    "reason",
    "previous_hash",
    "hash",
)
JSON_FIELDS = ("before", "after")
# The fields a filter looks at, in the order `excluded_by` names the first one that fails.
FILTER_FIELDS = ("since", "until", "actor", "object_type", "object_id", "verb")
STUB_FIELDS = ("sequence", "hash", "created_at", "actor_name", "verb", "object_type", "object_id")
# Bounds on what a (possibly hostile) bundle makes the verifier hold in memory at once.
MANIFEST_LIMIT = 16 << 20  # bytes of manifest.json
LINE_LIMIT = 16 << 20  # characters of one line of a member (one event, stub or proof)


class VerifyError(Exception):
    """The export (or a checkpoint, proof or token) does not verify; the message says why."""


# --- Event hashes (the rule of archive.audit.event_hash) ------------------------------------


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def event_hash(row: dict) -> str:
    """The SHA-256 sealing one event, from its stored fields."""
    payload = {
        "sequence": row["sequence"],
        "created_at": row["created_at"],
        "actor": row["actor_name"],
        "verb": row["verb"],
        "object_type": row["object_type"],
        "object_id": row["object_id"],
        "before": row["before"],
        "after": row["after"],
        "reason": row["reason"],
        "previous_hash": row["previous_hash"],
    }
    return hashlib.sha256(_canonical(payload).encode("utf-8")).hexdigest()


# --- RFC 9162 Merkle tree -------------------------------------------------------------------


def leaf_entry(row: dict) -> bytes:
    """What one event contributes to the tree: its hash and the fields filters look at.

    Committing to the filter fields lets a filtered export prove that each event it
    withholds really fails the filter, without revealing the event's content.
    """
    return _canonical({name: row[name] for name in STUB_FIELDS}).encode("utf-8")


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


EMPTY_ROOT = hashlib.sha256(b"").digest()


def frontier_sizes(size: int) -> list[int]:
    """The sizes of the perfect subtrees a tree of `size` leaves is made of, left to right."""
    return [1 << bit for bit in range(size.bit_length() - 1, -1, -1) if size >> bit & 1]


class MerkleAccumulator:
    """Leaves appended one at a time; keeps only the roots of the perfect subtrees."""

    def __init__(self, frontier: Iterable[bytes] = (), size: int = 0):
        sizes = frontier_sizes(size)
        self.stack = list(zip(sizes, frontier, strict=True))
        self.size = size

    def append(self, leaf: bytes) -> None:
        self.stack.append((1, leaf))
        self.size += 1
        while len(self.stack) > 1 and self.stack[-1][0] == self.stack[-2][0]:
            (n, right), (_, left) = self.stack.pop(), self.stack.pop()
            self.stack.append((2 * n, node_hash(left, right)))

    @property
    def frontier(self) -> list[bytes]:
        return [h for _, h in self.stack]

    def root(self) -> bytes:
        if not self.stack:
            return EMPTY_ROOT
        root = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
            root = node_hash(left, root)
        return root


def merkle_root(leaves: Iterable[bytes]) -> bytes:
    tree = MerkleAccumulator()
    for leaf in leaves:
        tree.append(leaf)
    return tree.root()


def inclusion_verify(*, index: int, size: int, leaf: bytes, path: list[bytes], root: bytes):
    """RFC 9162 §2.1.3.2: does `path` prove leaf number `index` is in the tree of `root`?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def consistency_verify(*, first: int, second: int, first_root, second_root, path) -> bool:
    """RFC 9162 §2.1.4.2: is the tree of `second_root` an append-only extension of the other?"""
    if first == second:
        return not path and first_root == second_root
    if not 0 < first < second or not path:
        return False
    if first & (first - 1) == 0:
        path = [first_root, *path]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == first_root and sr == second_root


# --- Signed checkpoints (C2SP signed-note) ---------------------------------------------------


def key_id(name: str, public_raw: bytes) -> bytes:
    """The 4-byte key hash of a signed-note Ed25519 key."""
    return hashlib.sha256(name.encode("utf-8") + b"\n\x01" + public_raw).digest()[:4]


@dataclass
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: dict
    body: bytes
    signatures: list[tuple[str, bytes, bytes]]  # (key name, key id, signature)
    text: str

    @property
    def chain_hash(self) -> str:
        return self.extensions.get("chain", "")


def checkpoint_parse(text: str) -> Checkpoint:
    """Read a checkpoint note: origin, size, base64 root, extension lines, signatures."""
    body, sep, signature_block = text.partition("\n\n")
    if not sep or not text.endswith("\n"):
        raise VerifyError("the checkpoint is not a signed note")
    lines = body.split("\n")
    if len(lines) < 3:
        raise VerifyError("the checkpoint lacks its origin, size or root")
    try:
        size, root = int(lines[1]), base64.b64decode(lines[2], validate=True)
    except ValueError as exc:
        raise VerifyError("the checkpoint's size or root cannot be read") from exc
    extensions = {}
    for line in lines[3:]:
        key, _, value = line.partition(" ")
        extensions[key] = value
    signatures = []
    for line in signature_block.rstrip("\n").split("\n"):
        dash, _, rest = line.partition(" ")
        name, _, blob = rest.rpartition(" ")
        try:
            raw = base64.b64decode(blob, validate=True)
        except ValueError as exc:
            raise VerifyError("a checkpoint signature cannot be read") from exc
        if dash != "\u2014" or len(raw) != 68:
            raise VerifyError("a checkpoint signature line is malformed")
        signatures.append((name, raw[:4], raw[4:]))
    return Checkpoint(
        origin=lines[0],
        size=size,
        root=root,
        extensions=extensions,
        body=(body + "\n").encode("utf-8"),
        signatures=signatures,
        text=text,
    )


@dataclass
class TrustedKey:
    name: str
    public_raw: bytes

    @property
    def id(self) -> bytes:
        return key_id(self.name, self.public_raw)


def public_key_load(pem: bytes, name: str = "") -> bytes:
    """The raw 32 bytes of an Ed25519 public key given as PEM (or as 32 raw bytes)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise VerifyError(f"{name or 'the public key'} is not an Ed25519 key")
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _signature_valid(public_raw: bytes, signature: bytes, data: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, data)
    except InvalidSignature:
        return False
    return True


def checkpoint_signed_by(checkpoint: Checkpoint, keys: Iterable[bytes]) -> bytes | None:
    """The raw public key among `keys` whose valid signature the checkpoint carries."""
    for name, kid, signature in checkpoint.signatures:
        for public_raw in keys:
            if key_id(name, public_raw) == kid and _signature_valid(
                public_raw, signature, checkpoint.body
            ):
                return public_raw
    return None


def keys_follow_rotations(trusted: list[bytes], rotations: Iterable[str]) -> list[bytes]:
    """Add each new key a rotation checkpoint introduces, when a trusted key co-signed it."""
    trusted = list(trusted)
    for text in rotations:
        note = checkpoint_parse(text)
        announced = note.extensions.get("public-key", "")
        try:
            new_key = base64.b64decode(announced, validate=True)
        except ValueError:
            continue
        if len(new_key) != 32 or new_key in trusted:
            continue
        if checkpoint_signed_by(note, trusted) and checkpoint_signed_by(note, [new_key]):
            trusted.append(new_key)
    return trusted


# --- RFC 3161 timestamp tokens (a small DER reader) ------------------------------------------

OID_SHA256 = "2.16.840.1.101.3.4.2.1"
OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
OID_TST_INFO = "1.2.840.113549.1.9.16.1.4"
OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
DIGESTS = {
    OID_SHA256: "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
    "1.3.14.3.2.26": "sha1",
}


def der_items(data: bytes, start: int = 0, end: int | None = None) -> list:
    """The TLVs in data[start:end] as (tag, content, whole encoding)."""
    end = len(data) if end is None else end
    items, pos = [], start
    while pos < end:
        tag, length_at = data[pos], pos + 1
        if length_at >= end:
            raise VerifyError("the timestamp token is truncated")
        length, content_at = data[length_at], length_at + 1
        if length & 0x80:
            count = length & 0x7F
            if not 0 < count <= 4:
                raise VerifyError("the timestamp token has an unsupported length")
            length = int.from_bytes(data[content_at : content_at + count], "big")
            content_at += count
        if content_at + length > end:
            raise VerifyError("the timestamp token is truncated")
        items.append((tag, data[content_at : content_at + length], data[pos : content_at + length]))
        pos = content_at + length
    return items


def der_children(content: bytes) -> list[tuple[int, bytes, bytes]]:
    return der_items(content)


def der_oid(content: bytes) -> str:
    values, value = [], 0
    for byte in content:
        value = value << 7 | byte & 0x7F
        if not byte & 0x80:
            values.append(value)
            value = 0
    if not values:
        raise VerifyError("an empty object identifier")
    first = min(values[0] // 40, 2)
    return ".".join(str(v) for v in [first, values[0] - 40 * first, *values[1:]])


@dataclass
class Timestamp:
    gen_time: dt.datetime
    imprint: bytes
    nonce: int | None
    signer: object  # a cryptography x509.Certificate
    certificates: list


def _der_time(content: bytes) -> dt.datetime:
    text = content.decode("ascii").rstrip("Z")
    whole, _, fraction = text.partition(".")
    moment = dt.datetime.strptime(whole, "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)
    return moment + dt.timedelta(microseconds=int((fraction or "0")[:6].ljust(6, "0")))


def _tst_info(der: bytes) -> tuple[bytes, int | None, dt.datetime]:
    fields = der_children(der_items(der)[0][1])
    imprint = der_children(fields[2][1])
    algorithm = der_oid(der_children(imprint[0][1])[0][1])
    if algorithm != OID_SHA256:
        raise VerifyError("the timestamp's message imprint is not SHA-256")
    nonce = next((int.from_bytes(c, "big") for t, c, _ in fields[5:] if t == 0x02), None)
    return imprint[1][1], nonce, _der_time(fields[4][1])


def _signer_verify(signer_info, certificates, tst_der: bytes):
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    fields = der_children(signer_info)
    digest_name = DIGESTS.get(der_oid(der_children(fields[2][1])[0][1]))
    attrs = next((f for f in fields if f[0] == 0xA0), None)
    signature = next(c for t, c, _ in fields[4:] if t == 0x04)
    if digest_name is None or attrs is None:
        raise VerifyError("the timestamp's signer uses an unsupported form")
    message_digest = None
    for _, attribute, _ in der_children(attrs[1]):
        parts = der_children(attribute)
        if der_oid(parts[0][1]) == OID_MESSAGE_DIGEST:
            message_digest = der_children(parts[1][1])[0][1]
    if message_digest != hashlib.new(digest_name, tst_der).digest():
        raise VerifyError("the timestamp token's signed digest does not match its content")
    signed = b"\x31" + attrs[2][1:]  # signed attributes are signed as a SET OF
    algorithm = getattr(hashes, digest_name.upper())()
    for certificate in certificates:
        key = certificate.public_key()
        try:
            if isinstance(key, rsa.RSAPublicKey):
                key.verify(signature, signed, padding.PKCS1v15(), algorithm)
            elif isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(signature, signed, ec.ECDSA(algorithm))
            else:
                continue
        except InvalidSignature:
            continue
        return certificate
    raise VerifyError("the timestamp token's signature does not verify")


def timestamp_parse(token: bytes) -> Timestamp:
    """Check a TimeStampToken's own signature and read its time, imprint and nonce."""
    from cryptography import x509

    try:
        content_info = der_children(der_items(token)[0][1])
        if der_oid(content_info[0][1]) != OID_SIGNED_DATA:
            raise VerifyError("the timestamp token is not CMS signed data")
        signed_data = der_children(der_children(content_info[1][1])[0][1])
        encap = der_children(signed_data[2][1])
        if der_oid(encap[0][1]) != OID_TST_INFO:
            raise VerifyError("the timestamp token holds no TSTInfo")
        tst_der = der_children(encap[1][1])[0][1]
        certificates = [
            x509.load_der_x509_certificate(whole)
            for tag, content, _ in signed_data[3:]
            if tag == 0xA0
            for _, _, whole in der_children(content)
        ]
        signer_infos = der_children(signed_data[-1][1])
        imprint, nonce, gen_time = _tst_info(tst_der)
    except (IndexError, ValueError, StopIteration) as exc:
        raise VerifyError("the timestamp token cannot be read") from exc
    if len(signer_infos) != 1:
        raise VerifyError("the timestamp token must have one signer")
    try:
        signer = _signer_verify(signer_infos[0][1], certificates, tst_der)
    except (IndexError, StopIteration) as exc:
        raise VerifyError("the timestamp token's signer cannot be read") from exc
    return Timestamp(gen_time, imprint, nonce, signer, certificates)


def timestamp_verify(token: bytes, data: bytes, trusted_certs: list) -> Timestamp:
    """A timestamp over exactly `data`, signed by (a certificate issued by) a trusted TSA."""
    stamp = timestamp_parse(token)
    if stamp.imprint != hashlib.sha256(data).digest():
        raise VerifyError("the timestamp token is for other data than this checkpoint")
    if trusted_certs and not any(_issued_by(stamp.signer, cert) for cert in trusted_certs):
        raise VerifyError("the timestamp was not signed by a trusted time-stamping authority")
    return stamp


def _issued_by(certificate, authority) -> bool:
    from cryptography.exceptions import InvalidSignature

    if certificate == authority:
        return True
    try:
        certificate.verify_directly_issued_by(authority)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


# --- Filters ---------------------------------------------------------------------------------


def _moment(value: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def filter_excludes(filters: dict, row: dict) -> str | None:
    """The first filter the event fails (its name), or None when the event matches."""
    created = None
    for name in FILTER_FIELDS:
        wanted = filters.get(name)
        if not wanted:
            continue
        if name in ("since", "until"):
            created = created or _moment(row["created_at"])
            failed = created < _moment(wanted) if name == "since" else created >= _moment(wanted)
        elif name == "actor":
            failed = row["actor_name"] != wanted
        elif name == "verb":
            if wanted.endswith("*"):
                failed = not row["verb"].startswith(wanted[:-1])
            else:
                failed = row["verb"] != wanted
        else:
            failed = row[name] != wanted
        if failed:
            return name
    return None


# --- Reading an export ----------------------------------------------------------------------


def csv_cell_restore(value: str) -> str:
    """Undo the export's leading quote before a spreadsheet formula trigger."""
    return value[1:] if value.startswith("'") else value


def rows_read(lines: Iterable[str], fmt: str) -> Iterator[dict]:
    """The events of an export file, as dicts of their stored fields."""
    if fmt == "csv":
        # A genuine event's field may be longer than csv's default limit (128 KB); each
        # line is bounded by LINE_LIMIT already.
        csv.field_size_limit(max(csv.field_size_limit(), LINE_LIMIT))
        reader = csv.DictReader(lines)
        if tuple(reader.fieldnames or ()) != EVENT_FIELDS:
            raise VerifyError(f"unexpected CSV columns: {reader.fieldnames}")
        for raw in reader:
            if None in raw or None in raw.values():
                raise VerifyError(f"a CSV row has the wrong number of cells: {raw}")
            row = {k: csv_cell_restore(v) for k, v in raw.items()}
            try:
                row["sequence"] = int(row["sequence"])
                for name in JSON_FIELDS:
                    row[name] = json.loads(row[name])
            except ValueError as exc:
                raise VerifyError(f"a CSV row cannot be read: {exc}") from exc
            yield row
    elif fmt == "jsonl":
        for line in lines:
            try:
                row = json.loads(line)
                yield {name: row[name] for name in EVENT_FIELDS}
            except (ValueError, KeyError, TypeError) as exc:
                raise VerifyError(f"a JSON line cannot be read: {exc}") from exc
    else:
        raise VerifyError(f"unknown export format {fmt!r}")


def _stubs_read(lines: Iterable[str]) -> Iterator[dict]:
    for line in lines:
        try:
            stub = json.loads(line)
            yield {**{name: stub[name] for name in STUB_FIELDS}, "excluded_by": stub["excluded_by"]}
        except (ValueError, KeyError, TypeError) as exc:
            raise VerifyError(f"a withheld-event line cannot be read: {exc}") from exc


def _proofs_read(lines: Iterable[str]) -> Iterator[tuple[int, list[bytes]]]:
    for line in lines:
        try:
            proof = json.loads(line)
            yield int(proof["sequence"]), [bytes.fromhex(h) for h in proof["path"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise VerifyError(f"an inclusion proof cannot be read: {exc}") from exc


# --- Verifying a bundle ---------------------------------------------------------------------


@dataclass
class Report:
    ok: bool = False
    listed: int = 0
    withheld: int = 0
    size: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    omitted: list[tuple[int, int, str]] = field(default_factory=list)
    filters: dict = field(default_factory=dict)

    def summary(self) -> str:
        return f"{self.listed} events listed, {self.withheld} withheld, log of {self.size} events"


def _ranges(sequences: Iterable[tuple[int, str]]) -> list[tuple[int, int, str]]:
    ranges: list[list] = []
    for sequence, reason in sequences:
        if ranges and ranges[-1][1] == sequence - 1 and ranges[-1][2] == reason:
            ranges[-1][1] = sequence
        else:
            ranges.append([sequence, sequence, reason])
    return [tuple(r) for r in ranges]


class _Walk:
    """Walk listed events and withheld stubs together in sequence order, checking each."""

    def __init__(self, filters: dict, checkpoint: Checkpoint, proofs: Iterator, report: Report):
        self.filters, self.checkpoint, self.size = filters, checkpoint, checkpoint.size
        self.proofs, self.report = proofs, report
        self.tree = MerkleAccumulator()
        self.previous_hash, self.expected = "", 1
        self.omitted: list[tuple[int, str]] = []

    def step(self, row: dict, *, listed: bool) -> None:
        sequence = row["sequence"]
        if not isinstance(sequence, int) or isinstance(sequence, bool):
            raise VerifyError(f"sequence {sequence!r} is not a number")
        if sequence < self.expected:
            raise VerifyError(f"event #{sequence} appears twice or out of order")
        if sequence > self.expected:
            raise VerifyError(
                f"event #{self.expected} is missing: neither listed nor withheld "
                "(removed from the export)"
            )
        if sequence > self.size:
            raise VerifyError(f"event #{sequence} is past the checkpoint (#{self.size})")
        excluded = filter_excludes(self.filters, row)
        if listed:
            if event_hash(row) != row["hash"]:
                raise VerifyError(f"event #{sequence} was altered after it was written")
            if row["previous_hash"] != self.previous_hash:
                raise VerifyError(f"event #{sequence} does not link to event #{sequence - 1}")
            if excluded:
                raise VerifyError(f"event #{sequence} is listed but fails the filter {excluded!r}")
        else:
            if excluded is None:
                raise VerifyError(
                    f"event #{sequence} matches the export's filter but was withheld "
                    "(an omission inside the filter)"
                )
            if row["excluded_by"] != excluded:
                raise VerifyError(
                    f"event #{sequence} is said to fail {row['excluded_by']!r}; "
                    f"it fails {excluded!r}"
                )
            self.omitted.append((sequence, excluded))
        leaf = leaf_hash(leaf_entry(row))
        if listed:
            self.proof_check(sequence, leaf)
        self.tree.append(leaf)
        self.previous_hash, self.expected = row["hash"], sequence + 1

    def proof_check(self, sequence: int, leaf: bytes) -> None:
        # proofs.jsonl lists one proof per listed event, in the same order.
        proved, path = next(self.proofs, (None, None))
        if proved != sequence:
            raise VerifyError(f"event #{sequence} has no inclusion proof (proofs out of step)")
        checkpoint = self.checkpoint
        if not inclusion_verify(
            index=sequence - 1, size=self.size, leaf=leaf, path=path, root=checkpoint.root
        ):
            raise VerifyError(f"event #{sequence}'s inclusion proof does not verify")


def _merged(listed: Iterator[dict], withheld: Iterator[dict]) -> Iterator[tuple[dict, bool]]:
    a, b = next(listed, None), next(withheld, None)
    while a is not None or b is not None:
        if b is None or (a is not None and _seq(a) <= _seq(b)):
            yield a, True
            a = next(listed, None)
        else:
            yield b, False
            b = next(withheld, None)


def _seq(row: dict) -> int:
    sequence = row["sequence"]
    return sequence if isinstance(sequence, int) else -1


def _lines(archive: zipfile.ZipFile, name: str) -> Iterator[str]:
    with archive.open(name) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        while line := text.readline(LINE_LIMIT + 1):
            if len(line) > LINE_LIMIT:
                raise VerifyError(
                    f"{name} has a line too long to be an event (over {LINE_LIMIT >> 20} MB)"
                )
            yield line


def _digest(archive: zipfile.ZipFile, name: str) -> str:
    digest = hashlib.sha256()
    with archive.open(name) as raw:
        for block in iter(lambda: raw.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checkpoint_check(manifest: dict, keys: list[bytes], report: Report) -> Checkpoint:
    try:
        checkpoint = checkpoint_parse(manifest["checkpoint"]["note"])
    except (KeyError, TypeError) as exc:
        raise VerifyError("the export carries no checkpoint") from exc
    trusted = keys_follow_rotations(keys, manifest.get("key_rotations") or [])
    if checkpoint_signed_by(checkpoint, trusted) is None:
        raise VerifyError(
            "the checkpoint is not signed by the archive's public key (forged, or signed "
            "with another key)"
        )
    previous = manifest["checkpoint"].get("previous")
    if previous:
        older = checkpoint_parse(previous["note"])
        if checkpoint_signed_by(older, trusted) is None:
            raise VerifyError("the previous checkpoint is not signed by the archive's key")
        path = [bytes.fromhex(h) for h in previous["consistency"]]
        if not consistency_verify(
            first=older.size,
            second=checkpoint.size,
            first_root=older.root,
            second_root=checkpoint.root,
            path=path,
        ):
            raise VerifyError(
                f"the checkpoint of {checkpoint.size} events is not consistent with the "
                f"previous one of {older.size} (history rewritten)"
            )
        report.notes.append(f"consistent with the previous checkpoint of {older.size} events")
    return checkpoint


def export_statement_body(*, origin: str, size: int, root: bytes, filters: dict, fmt: str):
    """What the archive signs about one export: its checkpoint, filters and file format.

    The content itself is proved by the Merkle tree; the statement makes the filter (which
    decides what may be withheld) the archive's word rather than the file's.
    """
    lines = [
        f"{origin} export",
        str(size),
        base64.b64encode(root).decode("ascii"),
        f"filters {_canonical({k: v for k, v in filters.items() if v})}",
        f"format {fmt}",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _statement_check(manifest: dict, checkpoint: Checkpoint, keys: list[bytes]) -> None:
    try:
        statement = checkpoint_parse(manifest["statement"])
    except (KeyError, TypeError) as exc:
        raise VerifyError("the export carries no signed statement of its filter") from exc
    expected = export_statement_body(
        origin=checkpoint.origin,
        size=checkpoint.size,
        root=checkpoint.root,
        filters=manifest["filters"],
        fmt=manifest["file_format"],
    )
    trusted = keys_follow_rotations(keys, manifest.get("key_rotations") or [])
    if statement.body != expected:
        raise VerifyError("the export's filter or checkpoint differs from what the archive signed")
    if checkpoint_signed_by(statement, trusted) is None:
        raise VerifyError("the export's statement is not signed by the archive's public key")


def _timestamp_check(manifest: dict, checkpoint: Checkpoint, tsa_certs, report: Report):
    token = manifest["checkpoint"].get("timestamp")
    if not token:
        report.notes.append("the checkpoint carries no trusted timestamp")
        return
    stamp = timestamp_verify(
        base64.b64decode(token["token"]), checkpoint.text.encode("utf-8"), tsa_certs
    )
    whose = "a trusted TSA" if tsa_certs else "the certificate in the token (pass --tsa-cert)"
    report.notes.append(f"timestamped {stamp.gen_time.isoformat()} by {whose}")


def bundle_verify(path, *, public_keys: list[bytes], tsa_certs: list | None = None) -> Report:
    """Verify an export bundle; a Report whose `problems` names the first fault found."""
    report = Report()
    try:
        _bundle_verify(path, public_keys, tsa_certs or [], report)
    except VerifyError as exc:
        report.problems.append(str(exc))
    except OSError as exc:
        report.problems.append(f"the export cannot be opened: {exc.strerror or exc}")
    except Exception as exc:  # noqa: BLE001 - any fault in hostile input means "does not verify"
        report.problems.append(f"the export cannot be read: {exc!r}"[:1000])
    report.ok = not report.problems
    return report


def _manifest_read(archive: zipfile.ZipFile) -> dict:
    names = [info.filename for info in archive.infolist()]
    if twice := sorted(name for name, n in Counter(names).items() if n > 1):
        # Zip tools show one copy, the verifier would read another: refuse both.
        raise VerifyError(f"the zip holds the member {twice[0]!r} twice")
    if "manifest.json" not in names:
        raise VerifyError("the export has no manifest.json")
    with archive.open("manifest.json") as raw:
        data = raw.read(MANIFEST_LIMIT + 1)
    if len(data) > MANIFEST_LIMIT:
        raise VerifyError(f"manifest.json is larger than {MANIFEST_LIMIT >> 20} MB")
    try:
        manifest = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise VerifyError(f"manifest.json cannot be read: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise VerifyError(f"unknown export format {found!r}")
    if not isinstance(manifest.get("members"), dict):
        raise VerifyError("the manifest lists no members")
    return manifest


def _members_check(archive: zipfile.ZipFile, manifest: dict, events_name: str) -> None:
    """Every member is listed with its digest, and the listed ones are there."""
    members = manifest["members"]
    for name in (events_name, "withheld.jsonl", "proofs.jsonl"):
        if not isinstance(members.get(name), str):
            raise VerifyError(f"the manifest gives no digest for {name}")
    for name in archive.namelist():
        if name != "manifest.json" and name not in members:
            raise VerifyError(f"the member {name!r} is not listed in the manifest")


def _bundle_verify(path, public_keys, tsa_certs, report: Report) -> None:
    if not public_keys:
        raise VerifyError("no public key given: the checkpoint cannot be checked")
    with zipfile.ZipFile(path) as archive:
        manifest = _manifest_read(archive)
        events_name = f"events.{manifest['file_format']}"
        _members_check(archive, manifest, events_name)
        for name, digest in manifest["members"].items():
            if _digest(archive, name) != digest:
                raise VerifyError(f"{name} differs from the manifest's digest (file changed)")
        checkpoint = _checkpoint_check(manifest, public_keys, report)
        _statement_check(manifest, checkpoint, public_keys)
        report.size = checkpoint.size
        proofs = _proofs_read(_lines(archive, "proofs.jsonl"))
        walk = _Walk(manifest["filters"], checkpoint, proofs, report)
        report.filters = {k: v for k, v in manifest["filters"].items() if v}
        rows = rows_read(_lines(archive, events_name), manifest["file_format"])
        stubs = _stubs_read(_lines(archive, "withheld.jsonl"))
        for row, listed in _merged(rows, stubs):
            walk.step(row, listed=listed)
            report.listed += listed
            report.withheld += not listed
        if walk.expected <= checkpoint.size:
            raise VerifyError(
                f"the export ends at event #{walk.expected - 1}; the checkpoint covers "
                f"{checkpoint.size} events (cut off at the end)"
            )
        if walk.tree.root() != checkpoint.root:
            raise VerifyError(
                "the events do not rebuild the checkpoint's Merkle root (an event was "
                "edited, inserted, removed or reordered)"
            )
        if checkpoint.chain_hash and walk.previous_hash != checkpoint.chain_hash:
            raise VerifyError("the last event's hash differs from the checkpoint's chain head")
        if (extra := next(proofs, None)) is not None:
            raise VerifyError(f"an inclusion proof for event #{extra[0]}, which is not listed")
        summary = manifest.get("summary") or {}
        if summary and (summary.get("listed"), summary.get("withheld")) != (
            report.listed,
            report.withheld,
        ):
            raise VerifyError("the manifest's counts differ from the export's contents")
        report.omitted = _ranges(walk.omitted)
        _timestamp_check(manifest, checkpoint, tsa_certs, report)


def report_lines(report: Report) -> list[str]:
    """What the verifier prints: the verdict, the filter, what it left out and why."""
    if not report.ok:
        return [f"does NOT verify: {report.problems[0]}"]
    lines = [f"verifies: {report.summary()}"]
    if report.filters:
        lines.append(f"  filter: {_canonical(report.filters)}")
    for first, last, reason in report.omitted:
        span = f"#{first}" if first == last else f"#{first}–#{last}"
        lines.append(f"  withheld {span}: outside the filter on {reason}")
    lines += [f"  {note}" for note in report.notes]
    return lines


def _load_cert(path: str):
    from cryptography import x509

    data = Path(path).read_bytes()
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


def main(argv: list[str] | None = None, out: Callable[[str], object] = print) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("export", help="an export bundle (.zip) from Keepsake")
    parser.add_argument(
        "--public-key",
        action="append",
        required=True,
        help="the archive's published Ed25519 public key (PEM); repeat for older keys",
    )
    parser.add_argument(
        "--tsa-cert", action="append", default=[], help="a trusted time-stamping authority"
    )
    args = parser.parse_args(argv)
    try:
        keys = [public_key_load(Path(p).read_bytes(), p) for p in args.public_key]
        certs = [_load_cert(p) for p in args.tsa_cert]
    except (OSError, ValueError, VerifyError) as exc:
        out(f"cannot read a key or certificate: {exc}")
        return 2
    report = bundle_verify(args.export, public_keys=keys, tsa_certs=certs)
    for line in report_lines(report):
        out(line)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
