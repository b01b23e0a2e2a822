"""Checkpoints: the audit log sealed into an RFC 9162 Merkle tree, signed, optionally timestamped.

A seal reads only the events written since the previous checkpoint, extends the stored
frontier of the tree (the roots of its perfect subtrees), and signs the new size and root
hash with the archive's Ed25519 key as a C2SP signed note. Before it signs it checks the
previous checkpoint's signature, that the stored frontier still gives its root, every new
event's hash and chain link, and an RFC 9162 consistency proof from the previous tree to
the new one. Each checkpoint is an audit event of its own (`audit.sealed`).

The work is CPU and reads only: the chain head is taken (by audit_record) for the one
append at the end, and an RFC 3161 timestamp is fetched after the seal has committed.

The Merkle hashing and every proof check are `archive.verifier`'s (the standalone file
outsiders run), so what is signed here is exactly what they verify.
"""

import base64
import datetime as dt
import logging
import os
import secrets
import urllib.parse
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.db import IntegrityError, connection
from django.utils import timezone

from archive import verifier
from archive.actors import SYSTEM
from archive.audit import _timestamp, audit_record, audited, event_rows
from archive.errors import ArchiveError
from archive.models import AuditChainHead, AuditEvent, Checkpoint

logger = logging.getLogger(__name__)

# Events a seal writes about itself: a log with nothing else new needs no new checkpoint.
SEAL_VERBS = ("audit.sealed", "audit.timestamped")
SEAL_ATTEMPTS = 3


# --- Keys -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SigningKey:
    name: str
    private: Ed25519PrivateKey

    @property
    def public_raw(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def id(self) -> bytes:
        return verifier.key_id(self.name, self.public_raw)

    def public_pem(self) -> str:
        return (
            self.private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode("ascii")
        )

    def sign(self, body: bytes) -> str:
        blob = base64.b64encode(self.id + self.private.sign(body)).decode("ascii")
        return f"\u2014 {self.name} {blob}\n"


def _key_file_create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return
    with os.fdopen(fd, "wb") as fp:
        fp.write(pem)
    logger.warning("created the audit signing key %s; publish its public key", path)


@lru_cache(maxsize=8)
def _key_load(pem: bytes, name: str) -> SigningKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ArchiveError("The audit signing key must be an Ed25519 private key (PEM).")
    return SigningKey(name=name, private=key)


def signing_key() -> SigningKey:
    """The archive's signing key: KEEPSAKE_AUDIT_SIGNING_KEY (PEM) or the key file.

    The key file is made (mode 600) on first use when it does not exist yet. The key is
    never stored in the database.
    """
    name = settings.KEEPSAKE_AUDIT_LOG_ORIGIN
    if settings.KEEPSAKE_AUDIT_SIGNING_KEY:
        try:
            return _key_load(settings.KEEPSAKE_AUDIT_SIGNING_KEY.encode("ascii"), name)
        except (ValueError, TypeError) as exc:
            raise ArchiveError(
                "The audit signing key in KEEPSAKE_AUDIT_SIGNING_KEY cannot be used (not an "
                "unencrypted PEM private key); fix the setting.",
                code="unavailable",
            ) from exc
    path = Path(settings.KEEPSAKE_AUDIT_SIGNING_KEY_FILE)
    try:
        if not path.exists():
            _key_file_create(path)
        return _key_load(path.read_bytes(), name)
    except (OSError, ValueError, TypeError) as exc:
        # A key file that cannot be read or parsed: say which, never a server error.
        detail = getattr(exc, "strerror", None) or "not an unencrypted PEM private key"
        raise ArchiveError(
            f"The audit signing key {path} cannot be used ({detail}); fix "
            "KEEPSAKE_AUDIT_SIGNING_KEY_FILE or the file.",
            code="unavailable",
        ) from exc


def previous_signing_key() -> SigningKey | None:
    """The key being rotated away from, if configured: it co-signs the rotation checkpoint."""
    path = settings.KEEPSAKE_AUDIT_PREVIOUS_SIGNING_KEY_FILE
    if not path:
        return None
    return _key_load(Path(path).read_bytes(), settings.KEEPSAKE_AUDIT_PREVIOUS_KEY_NAME)


def _trusted_keys(key: SigningKey, old: SigningKey | None) -> list[bytes]:
    trusted = [key.public_raw] + ([old.public_raw] if old else [])
    rotations = Checkpoint.objects.filter(note__contains="\npublic-key ").order_by("size")
    return verifier.keys_follow_rotations(trusted, rotations.values_list("note", flat=True))


# --- The Merkle tree over stored events ----------------------------------------------------


def event_leaf(row: dict) -> bytes:
    return verifier.leaf_hash(verifier.leaf_entry(row))


def largest_power_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def consistency_proof(first: int, second: int, subtree) -> list[bytes]:
    """RFC 9162 §2.1.4.1 PROOF(first, D[0:second]); subtree(lo, hi) gives MTH(D[lo:hi])."""

    def sub(m: int, lo: int, hi: int, complete: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if complete else [subtree(lo, hi)]
        k = largest_power_below(n)
        if m <= k:
            return [*sub(m, lo, lo + k, complete), subtree(lo + k, hi)]
        return [*sub(m - k, lo + k, hi, False), subtree(lo, lo + k)]

    return sub(first, 0, second, True) if 0 < first < second else []


class MerkleTree:
    """Every level of the tree over a list of leaves, packed 32 bytes a hash (for proofs)."""

    def __init__(self):
        self.levels = [bytearray()]

    def append(self, leaf: bytes) -> None:
        self.levels[0] += leaf

    @property
    def size(self) -> int:
        return len(self.levels[0]) // 32

    def build(self) -> None:
        level = self.levels[0]
        while len(level) > 32:
            upper = bytearray()
            count = len(level) // 32
            for i in range(0, count - 1, 2):
                upper += verifier.node_hash(
                    level[32 * i : 32 * i + 32], level[32 * i + 32 : 32 * i + 64]
                )
            if count % 2:  # the odd last node goes up unhashed (RFC 9162's unbalanced tree)
                upper += level[-32:]
            self.levels.append(upper)
            level = upper

    def root(self) -> bytes:
        return bytes(self.levels[-1]) if self.size else verifier.EMPTY_ROOT

    def node(self, height: int, index: int) -> bytes:
        return bytes(self.levels[height][32 * index : 32 * index + 32])

    def subtree(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) of a range that starts at a multiple of a power of two."""
        n = hi - lo
        if n & (n - 1) == 0 and lo % n == 0:
            return self.node(n.bit_length() - 1, lo // n)
        k = largest_power_below(n)
        return verifier.node_hash(self.subtree(lo, lo + k), self.subtree(lo + k, hi))

    def inclusion_path(self, index: int) -> list[bytes]:
        """RFC 9162 §2.1.3.1 PATH(index, D[0:size])."""
        path, i = [], index
        for height in range(len(self.levels) - 1):
            count = len(self.levels[height]) // 32
            sibling = i ^ 1
            if sibling < count:
                path.append(self.node(height, sibling))
            i >>= 1
        return path

    def consistency(self, first: int) -> list[bytes]:
        return consistency_proof(first, self.size, self.subtree)


def _leaf_rows(events, chunk_size: int):
    # A proof needs only what the leaves commit to, not the events' payloads.
    for row in events.values(*verifier.STUB_FIELDS).iterator(chunk_size=chunk_size):
        yield {**row, "created_at": _timestamp(row["created_at"])}


def tree_from_log(*, size: int, chunk_size: int = 5000, on_row=None) -> MerkleTree:
    """The tree over events #1..#size as stored; on_row(row) sees each event on the way."""
    tree = MerkleTree()
    events = AuditEvent.objects.filter(sequence__lte=size).order_by("sequence")
    rows = event_rows(events, chunk_size=chunk_size) if on_row else _leaf_rows(events, chunk_size)
    for row in rows:
        tree.append(event_leaf(row))
        if on_row is not None:
            on_row(row)
    tree.build()
    return tree


# --- Sealing ---------------------------------------------------------------------------------


def checkpoint_latest() -> Checkpoint | None:
    return Checkpoint.objects.order_by("-size").first()


def checkpoint_covering(sequence: int) -> Checkpoint | None:
    """The first checkpoint whose tree includes event #sequence (None until one is sealed).

    Destruction certificates and dataset releases cite it: with the export that holds the
    event, its inclusion proof against this checkpoint shows the event is in the log the
    archive signed.
    """
    return Checkpoint.objects.filter(size__gte=sequence).order_by("size").first()


def _note_body(*, size: int, root: bytes, chain: str, extra: list[str]) -> bytes:
    lines = [
        settings.KEEPSAKE_AUDIT_LOG_ORIGIN,
        str(size),
        base64.b64encode(root).decode("ascii"),
        f"chain {chain}",
        f"time {timezone.now().astimezone(dt.UTC).isoformat(timespec='seconds')}",
        *extra,
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _previous_check(previous: Checkpoint, trusted: list[bytes]) -> verifier.Checkpoint:
    note = verifier.checkpoint_parse(previous.note)
    if verifier.checkpoint_signed_by(note, trusted) is None:
        raise ArchiveError(
            f"Checkpoint #{previous.size} is not signed by a key this archive holds; to "
            "rotate the key, set KEEPSAKE_AUDIT_PREVIOUS_SIGNING_KEY_FILE to the old one."
        )
    frontier = [bytes.fromhex(h) for h in previous.frontier]
    try:
        stored = verifier.MerkleAccumulator(frontier, previous.size).root()
    except ValueError as exc:
        raise ArchiveError(f"Checkpoint #{previous.size}'s stored tree is damaged.") from exc
    if stored != note.root or note.root.hex() != previous.root_hash or note.size != previous.size:
        raise ArchiveError(f"Checkpoint #{previous.size} was altered after it was signed.")
    return note


def _new_leaves(*, after: int, upto: int, link: str) -> list[bytes]:
    """Leaves of events #after+1..#upto, each event's hash and chain link checked."""
    leaves = []
    events = AuditEvent.objects.filter(sequence__gt=after, sequence__lte=upto).order_by("sequence")
    expected = after + 1
    for row in event_rows(events, chunk_size=5000):
        if row["sequence"] != expected or row["previous_hash"] != link:
            raise ArchiveError(f"Event #{expected} is missing or does not link; not sealed.")
        if verifier.event_hash(row) != row["hash"]:
            raise ArchiveError(f"Event #{expected} was altered after it was written; not sealed.")
        leaves.append(event_leaf(row))
        link, expected = row["hash"], expected + 1
    if expected != upto + 1:
        raise ArchiveError(f"Event #{expected} is missing; not sealed.")
    return leaves


def _extension_subtree(previous, frontier: list[bytes], leaves: list[bytes]):
    """MTH(D[lo:hi]) for a seal's consistency proof: old ranges from the frontier, new ones
    from the new leaves (RFC 9162's proof only ever asks for those two kinds)."""
    m = previous.size if previous else 0
    offsets, at = {}, 0
    for width, node in zip(verifier.frontier_sizes(m), frontier, strict=True):
        offsets[(at, at + width)] = node
        at += width

    def subtree(lo: int, hi: int) -> bytes:
        if hi <= m:
            return offsets[(lo, hi)]
        if lo < m:
            raise ArchiveError("A consistency proof asked for a range across the old tree.")
        return verifier.merkle_root(leaves[lo - m : hi - m])

    return subtree


def _nothing_new(previous: Checkpoint | None, upto: int) -> bool:
    if previous is None:
        return upto == 0
    newer = AuditEvent.objects.filter(sequence__gt=previous.size, sequence__lte=upto)
    return not newer.exclude(verb__in=SEAL_VERBS).exists()


@dataclass(frozen=True)
class SealPlan:
    size: int
    root: bytes
    chain: str
    frontier: list[bytes]
    note: str
    key_id: str
    previous: Checkpoint | None


def _seal_plan(*, previous: Checkpoint | None, upto: int, chain: str) -> SealPlan:
    key, old = signing_key(), previous_signing_key()
    frontier, link, extra = [], "", []
    if previous is not None:
        old_note = _previous_check(previous, _trusted_keys(key, old))
        frontier, link = [bytes.fromhex(h) for h in previous.frontier], previous.chain_hash
        if previous.key_id != key.id.hex():
            # A new key: the checkpoint names the old one and announces itself, and the
            # old key (when still at hand) co-signs it, so trust carries over.
            extra = [
                f"previous-key {previous.key_id}",
                f"public-key {base64.b64encode(key.public_raw).decode('ascii')}",
            ]
    leaves = _new_leaves(after=previous.size if previous else 0, upto=upto, link=link)
    tree = verifier.MerkleAccumulator(frontier, previous.size if previous else 0)
    for leaf in leaves:
        tree.append(leaf)
    root = tree.root()
    if previous is not None:
        proof = consistency_proof(
            previous.size, upto, _extension_subtree(previous, frontier, leaves)
        )
        if not verifier.consistency_verify(
            first=previous.size, second=upto, first_root=old_note.root, second_root=root, path=proof
        ):
            raise ArchiveError(
                f"The log of {upto} events is not an extension of checkpoint #{previous.size} "
                "(history rewritten); not sealed."
            )
    body = _note_body(size=upto, root=root, chain=chain, extra=extra)
    signatures = key.sign(body)
    if extra and old is not None and old.id.hex() == previous.key_id:
        signatures += old.sign(body)
    note = body.decode("utf-8") + "\n" + signatures
    return SealPlan(upto, root, chain, tree.frontier, note, key.id.hex(), previous)


@audited
def _seal_record(plan: SealPlan, actor) -> Checkpoint:
    latest = checkpoint_latest()
    if (latest and latest.pk) != (plan.previous and plan.previous.pk):
        raise _Raced
    checkpoint = Checkpoint.objects.create(
        size=plan.size,
        root_hash=plan.root.hex(),
        chain_hash=plan.chain,
        frontier=[h.hex() for h in plan.frontier],
        note=plan.note,
        key_id=plan.key_id,
    )
    audit_record(
        actor=actor,
        verb="audit.sealed",
        obj=checkpoint,
        after={"size": plan.size, "root": plan.root.hex(), "key_id": plan.key_id},
    )
    return checkpoint


class _Raced(Exception):
    """Another seal committed a checkpoint since this one read the previous."""


def checkpoint_seal(*, actor=SYSTEM, timestamp: bool = True) -> Checkpoint | None:
    """Seal the log up to its current head into a signed checkpoint; None if nothing to seal.

    Returns the latest checkpoint when nothing but seals happened since it. The RFC 3161
    timestamp (when KEEPSAKE_AUDIT_TSA_URL is set) is fetched after the seal committed.
    """
    for _attempt in range(SEAL_ATTEMPTS):
        previous = checkpoint_latest()
        head = AuditChainHead.objects.filter(pk=1).first()
        upto, chain = (head.last_sequence, head.last_hash) if head else (0, "")
        if _nothing_new(previous, upto):
            return previous
        plan = _seal_plan(previous=previous, upto=upto, chain=chain)
        try:
            checkpoint = _seal_record(plan, actor)
        except (_Raced, IntegrityError):
            continue
        break
    else:
        return checkpoint_latest()
    if timestamp and settings.KEEPSAKE_AUDIT_TSA_URL and not connection.in_atomic_block:
        try:
            checkpoint = checkpoint_timestamp(checkpoint=checkpoint, actor=actor)
        except ArchiveError as exc:
            logger.warning("checkpoint #%s not timestamped: %s", checkpoint.size, exc.message)
    return checkpoint


def checkpoint_seal_task() -> str:
    """Scheduled: seal the audit log (and timestamp the checkpoint when a TSA is set)."""
    checkpoint = checkpoint_seal(actor=SYSTEM)
    if checkpoint is None:
        return "nothing to seal"
    if settings.KEEPSAKE_AUDIT_TSA_URL and checkpoint.timestamp_token is None:
        # The authority was unreachable last time, or nothing new was sealed: try again.
        try:
            checkpoint = checkpoint_timestamp(checkpoint=checkpoint, actor=SYSTEM)
        except ArchiveError as exc:
            logger.warning("checkpoint #%s not timestamped: %s", checkpoint.size, exc.message)
    stamped = "timestamped" if checkpoint.timestamp_token else "not timestamped"
    return f"checkpoint #{checkpoint.size} {checkpoint.root_hash[:16]}… ({stamped})"


def checkpoint_log_verify() -> str | None:
    """What is wrong between the latest checkpoint and the stored log, or None.

    The hash chain alone cannot tell a history rewritten end to end by someone with
    database rights (every hash and the head recomputed); the signed root can.
    """
    latest = checkpoint_latest()
    if latest is None:
        return None
    try:
        note = _previous_check(latest, _trusted_keys(signing_key(), previous_signing_key()))
    except ArchiveError as exc:
        return exc.message
    if tree_from_log(size=latest.size).root() != note.root:
        return (
            f"the stored events #1–#{latest.size} do not give checkpoint #{latest.size}'s "
            "signed root (history rewritten)"
        )
    return None


def checkpoint_proof(*, sequence: int, checkpoint: Checkpoint) -> list[str]:
    """The inclusion proof (hex hashes) of event #sequence in the checkpoint's tree."""
    if not 0 < sequence <= checkpoint.size:
        raise ArchiveError(f"Checkpoint #{checkpoint.size} does not cover event #{sequence}.")
    tree = tree_from_log(size=checkpoint.size)
    if tree.root().hex() != checkpoint.root_hash:
        raise ArchiveError(f"The stored log no longer matches checkpoint #{checkpoint.size}.")
    return [h.hex() for h in tree.inclusion_path(sequence - 1)]


# --- RFC 3161 trusted timestamps ------------------------------------------------------------


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def _der_int(value: int) -> bytes:
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


SHA256_ALGORITHM = _der(0x30, _der(0x06, bytes.fromhex("608648016503040201")) + b"\x05\x00")


def timestamp_request(digest: bytes, nonce: int) -> bytes:
    """A DER TimeStampReq (RFC 3161 §2.4.1) for a SHA-256 digest, asking for the TSA's cert."""
    imprint = _der(0x30, SHA256_ALGORITHM + _der(0x04, digest))
    return _der(0x30, _der_int(1) + imprint + _der_int(nonce) + b"\x01\x01\xff")


def timestamp_token_from_response(response: bytes) -> bytes:
    """The TimeStampToken of a granted TimeStampResp (RFC 3161 §2.4.2)."""
    try:
        parts = verifier.der_children(verifier.der_items(response)[0][1])
        status = int.from_bytes(verifier.der_children(parts[0][1])[0][1], "big")
    except (IndexError, verifier.VerifyError) as exc:
        raise ArchiveError("The time-stamping authority's answer cannot be read.") from exc
    if status not in (0, 1) or len(parts) < 2:
        raise ArchiveError(f"The time-stamping authority refused (status {status}).")
    return parts[1][2]


def _tsa_certs() -> list:
    from cryptography import x509

    path = settings.KEEPSAKE_AUDIT_TSA_CERT_FILE
    return [x509.load_pem_x509_certificate(Path(path).read_bytes())] if path else []


def timestamp_fetch(data: bytes) -> bytes:
    """Ask KEEPSAKE_AUDIT_TSA_URL for a token over SHA-256(data); checked before returned."""
    url = settings.KEEPSAKE_AUDIT_TSA_URL
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ArchiveError("KEEPSAKE_AUDIT_TSA_URL must be an http(s) URL.")
    nonce = secrets.randbits(63)
    digest = verifier.hashlib.sha256(data).digest()
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url,
        data=timestamp_request(digest, nonce),
        headers={"Content-Type": "application/timestamp-query"},
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.KEEPSAKE_AUDIT_TSA_TIMEOUT) as answer:  # noqa: S310
            token = timestamp_token_from_response(answer.read(1 << 20))
    except OSError as exc:
        raise ArchiveError(f"The time-stamping authority cannot be reached: {exc}") from exc
    try:
        stamp = verifier.timestamp_verify(token, data, _tsa_certs())
    except verifier.VerifyError as exc:
        raise ArchiveError(f"The timestamp token does not verify: {exc}") from exc
    if stamp.nonce != nonce:
        raise ArchiveError("The timestamp token answers another request (nonce).")
    return token


def checkpoint_timestamp(*, checkpoint: Checkpoint, actor=SYSTEM) -> Checkpoint:
    """Fetch an RFC 3161 token over the checkpoint note (network, outside any transaction)."""
    if connection.in_atomic_block:
        raise ArchiveError("A timestamp is fetched outside any transaction.")
    token = timestamp_fetch(checkpoint.note.encode("utf-8"))
    return _timestamp_record(checkpoint.pk, token, actor)


@audited
def _timestamp_record(pk: int, token: bytes, actor) -> Checkpoint:
    checkpoint = Checkpoint.objects.select_for_update(no_key=True).get(pk=pk)
    checkpoint.timestamp_token = token
    checkpoint.timestamp_authority = settings.KEEPSAKE_AUDIT_TSA_URL
    checkpoint.save(update_fields=["timestamp_token", "timestamp_authority"])
    audit_record(
        actor=actor,
        verb="audit.timestamped",
        obj=checkpoint,
        after={"size": checkpoint.size, "authority": checkpoint.timestamp_authority},
    )
    return checkpoint
