"""Attacks on the verifiable audit trail: forged, spliced and hostile export bundles fed to
the standalone verifier, a seal racing writers, and a missing or broken signing key.

The verifier must answer every bundle with a verdict: "verifies" only for a genuine one,
otherwise "does NOT verify: <reason>" — never a traceback, never unbounded memory, never a
file written anywhere.
"""

import io
import json
import threading
import tracemalloc
import zipfile
from contextlib import nullcontext

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import connection, transaction

from archive import verifier
from archive.audit import audit_record
from archive.audit_export import audit_bundle_write
from archive.checkpoints import checkpoint_seal, signing_key
from archive.models import AuditEvent, Checkpoint

pytestmark = pytest.mark.django_db


def record(n=1, verb="test.event", object_id=1):
    for _ in range(n):
        with transaction.atomic():
            audit_record(actor=None, verb=verb, object_type="archive.asset", object_id=object_id)


def bundle(fmt="csv") -> bytes:
    out = io.BytesIO()
    audit_bundle_write(fp=out, filters=verifier_filters(), fmt=fmt, actor=None)
    return out.getvalue()


def verifier_filters():
    from archive.audit_export import AuditExportFilter

    return AuditExportFilter()


def verify(data: bytes, keys=None) -> verifier.Report:
    keys = keys if keys is not None else [signing_key().public_raw]
    return verifier.bundle_verify(io.BytesIO(data), public_keys=keys)


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def rezip(items: list[tuple[str, bytes]], compression=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as archive:
        for name, content in items:
            duplicate = name in archive.NameToInfo
            with pytest.warns(UserWarning) if duplicate else nullcontext():
                archive.writestr(name, content)
    return out.getvalue()


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def genuine(db):
    record(3)
    checkpoint_seal()
    record(2, verb="asset.ingested", object_id=2)
    return bundle()


def test_a_genuine_bundle_verifies(genuine):
    report = verify(genuine)
    assert report.ok, report.problems


def test_duplicate_member_names_are_refused(genuine):
    """Two members named events.csv: a zip tool shows the first, the verifier read the last.
    A forged first copy must not ride along a genuine second one."""
    parts = members(genuine)
    forged = parts["events.csv"].replace(b"asset.ingested", b"asset.purged")
    items = [("events.csv", forged), *parts.items()]

    report = verify(rezip(items))

    assert not report.ok
    assert "twice" in report.problems[0]


def test_a_zip_of_very_many_members_is_refused_quickly(genuine):
    """Tens of thousands of tiny members (some duplicated) must not make the member checks
    quadratic."""
    import time

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, content in members(genuine).items():
            archive.writestr(name, content)
        for i in range(40_000):
            archive.writestr(f"m/{i}", b"")
    started = time.monotonic()

    report = verify(out.getvalue())

    assert not report.ok
    assert "not listed in the manifest" in report.problems[0]
    assert time.monotonic() - started < 5


def test_members_the_manifest_does_not_list_are_refused(genuine):
    """An unverified extra file (a 'corrected' events list, a zip-slip path) must not sit
    inside a bundle that 'verifies'."""
    for name in ("events-corrected.csv", "../../outside.txt", "/etc/evil"):
        items = [*members(genuine).items(), (name, b"sequence,verb\n1,asset.purged\n")]
        report = verify(rezip(items))
        assert not report.ok, name
        assert "not listed in the manifest" in report.problems[0]


def test_the_verifier_writes_nothing(genuine, tmp_path, monkeypatch):
    items = [*members(genuine).items(), ("../escaped.txt", b"x")]
    path = tmp_path / "box" / "export.zip"
    path.parent.mkdir()
    path.write_bytes(rezip(items))
    monkeypatch.chdir(path.parent)
    key = tmp_path / "key.pem"
    key.write_text(signing_key().public_pem())
    before = sorted(p.name for p in tmp_path.rglob("*"))
    lines = []

    assert verifier.main([str(path), "--public-key", str(key)], out=lines.append) == 1

    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert lines[0].startswith("does NOT verify")


def _peak_during(fn) -> tuple[object, int]:
    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_manifest_zip_bomb_fails_in_bounded_memory(genuine):
    parts = members(genuine)
    bomb = b"{" + b" " * (96 << 20) + b"}"
    items = [(n, c) for n, c in parts.items() if n != "manifest.json"]
    items.append(("manifest.json", bomb))
    data = rezip(items)
    assert len(data) < 1 << 20  # a small file that inflates to 96 MB

    report, peak = _peak_during(lambda: verify(data))

    assert not report.ok
    assert "manifest" in report.problems[0]
    assert peak < 40 << 20, f"peak {peak / 2**20:.0f} MB"


def test_an_endless_line_in_a_member_fails_in_bounded_memory(genuine):
    """events.csv inflating to one 96 MB line (the forger fixes the member digest)."""
    parts = members(genuine)
    header, _, _ = parts["events.csv"].partition(b"\n")
    endless = header + b"\n" + b"1," + b"A" * (96 << 20)
    manifest = json.loads(parts["manifest.json"])
    manifest["members"]["events.csv"] = _sha(endless)
    parts["events.csv"] = endless
    parts["manifest.json"] = json.dumps(manifest).encode()

    report, peak = _peak_during(lambda: verify(rezip(list(parts.items()))))

    assert not report.ok
    assert "too long" in report.problems[0]
    assert peak < 60 << 20, f"peak {peak / 2**20:.0f} MB"


@pytest.mark.parametrize(
    "manifest",
    [
        b"[]",
        b'"text"',
        b"null",
        b'{"format": "keepsake-audit-bundle/1", "members": []}',
        b'{"format": "keepsake-audit-bundle/1", "members": {"events.csv": 5}}',
        b"[" * 100_000 + b"]" * 100_000,
        b"\xff\xfe not utf-8",
    ],
    ids=["list", "string", "null", "members-list", "digest-number", "deep", "bytes"],
)
def test_a_hostile_manifest_gets_a_verdict_not_a_traceback(genuine, manifest):
    parts = members(genuine)
    parts["manifest.json"] = manifest
    if manifest.startswith(b"{"):
        real = json.loads(members(genuine)["manifest.json"])
        bent = {**real, **json.loads(manifest)}
        parts["manifest.json"] = json.dumps(bent).encode()

    report = verify(rezip(list(parts.items())))

    assert not report.ok
    assert report.problems and "Traceback" not in report.problems[0]


def test_a_corrupt_compressed_stream_gets_a_verdict(genuine):
    data = bytearray(genuine)
    with zipfile.ZipFile(io.BytesIO(genuine)) as archive:
        info = archive.getinfo("events.csv")
    # Damage the compressed bytes of events.csv, past its local header (CRC not yet read).
    start = info.header_offset + 30 + len(info.filename) + 4
    for i in range(start, start + 40):
        data[i] ^= 0x5A

    report = verify(bytes(data))

    assert not report.ok
    assert report.problems


def _central_entry_set(data: bytes, name: bytes, offset: int, value: bytes) -> bytes:
    """Overwrite bytes at offset within the central directory entry of member name."""
    damaged = bytearray(data)
    pos = data.find(b"PK\x01\x02")
    while pos >= 0:
        name_len = int.from_bytes(damaged[pos + 28 : pos + 30], "little")
        if damaged[pos + 46 : pos + 46 + name_len] == name:
            damaged[pos + offset : pos + offset + len(value)] = value
        pos = data.find(b"PK\x01\x02", pos + 4)
    return bytes(damaged)


@pytest.mark.parametrize(
    "offset,value",
    [(8, b"\x01\x00"), (10, (99).to_bytes(2, "little"))],
    ids=["encrypted-flag", "compression-method-99"],
)
def test_an_encrypted_or_unknown_compression_member_gets_a_verdict(genuine, offset, value):
    damaged = _central_entry_set(genuine, b"proofs.jsonl", offset, value)

    report = verify(damaged)

    assert not report.ok
    assert report.problems


def test_a_missing_or_unreadable_bundle_path_gets_a_clear_message(tmp_path):
    key = tmp_path / "key.pem"
    key.write_text(
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    for target in (tmp_path / "absent.zip", tmp_path):
        lines = []
        code = verifier.main([str(target), "--public-key", str(key)], out=lines.append)
        assert code == 1
        assert len(lines) == 1
        assert lines[0].startswith("does NOT verify: the export cannot be opened: ")
        assert "Traceback" not in lines[0]


def test_events_spliced_from_two_genuine_exports_do_not_verify(db):
    record(3)
    first = members(bundle())
    record(2, verb="asset.ingested", object_id=7)
    second = members(bundle())
    # The older export's manifest and checkpoint with the newer export's events and proofs,
    # member digests fixed up: the forger has two real signed bundles to cut from.
    manifest = json.loads(first["manifest.json"])
    for name in ("events.csv", "withheld.jsonl", "proofs.jsonl"):
        manifest["members"][name] = _sha(second[name])
    spliced = {**second, "manifest.json": json.dumps(manifest).encode()}
    assert not verify(rezip(list(spliced.items()))).ok
    # And the other way round: the newer checkpoint over the older events (truncation).
    manifest = json.loads(second["manifest.json"])
    for name in ("events.csv", "withheld.jsonl", "proofs.jsonl"):
        manifest["members"][name] = _sha(first[name])
    spliced = {**first, "manifest.json": json.dumps(manifest).encode()}
    report = verify(rezip(list(spliced.items())))
    assert not report.ok


def test_an_old_checkpoint_replayed_in_a_new_bundle_does_not_verify(db):
    record(2)
    old = json.loads(members(bundle())["manifest.json"])
    record(3, verb="asset.ingested")
    parts = members(bundle())
    manifest = json.loads(parts["manifest.json"])
    manifest["checkpoint"] = old["checkpoint"]
    manifest["statement"] = old["statement"]
    parts["manifest.json"] = json.dumps(manifest).encode()

    report = verify(rezip(list(parts.items())))

    assert not report.ok


def test_a_swapped_public_key_does_not_verify_and_a_forger_key_cannot_help(genuine, tmp_path):
    other = Ed25519PrivateKey.generate().public_key()
    raw = other.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert "not signed by the archive's public key" in verify(genuine, keys=[raw]).problems[0]
    # A key file that is not a public key at all: a clear message, exit 2.
    bad = tmp_path / "key.pem"
    bad.write_bytes(b"-----BEGIN PUBLIC KEY-----\nnonsense\n-----END PUBLIC KEY-----\n")
    path = tmp_path / "export.zip"
    path.write_bytes(genuine)
    lines = []
    assert verifier.main([str(path), "--public-key", str(bad)], out=lines.append) == 2
    assert lines[0].startswith("cannot read a key")


def test_a_broken_signing_key_file_is_a_clear_error_on_the_admin_export_page(
    client, settings, tmp_path
):
    from django.contrib.auth import get_user_model

    officer = get_user_model().objects.create_superuser("officer", password="x")
    client.force_login(officer)
    record(2)
    url = "/admin/archive/auditevent/export/"
    settings.KEEPSAKE_AUDIT_SIGNING_KEY = ""
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")
    for key_file in (garbage, tmp_path):  # unparsable, then a directory (unreadable)
        settings.KEEPSAKE_AUDIT_SIGNING_KEY_FILE = str(key_file)
        response = client.post(url, {"download": "1", "format": "csv", "upto": 2})
        assert response.status_code == 200, response.status_code
        assert b"audit signing key" in response.content
        response = client.get("/admin/archive/checkpoint/public-key/")
        assert response.status_code == 503
        assert b"audit signing key" in response.content
    settings.KEEPSAKE_AUDIT_SIGNING_KEY = (
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
    )
    response = client.post(url, {"download": "1", "format": "csv", "upto": 2})
    assert response.status_code == 200
    assert b"KEEPSAKE_AUDIT_SIGNING_KEY cannot be used" in response.content
    assert not Checkpoint.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_seal_racing_writers_signs_a_prefix_that_verifies(db):
    """Writers append while seals run: every checkpoint is a consistent prefix, and a later
    export verifies (on PostgreSQL the writers and the seal really overlap)."""
    record(3)
    stop = threading.Event()
    errors = []

    def write():
        try:
            for _ in range(30):
                record(1, verb="asset.ingested")
                if stop.is_set():
                    break
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write) for _ in range(2)]
    if connection.vendor != "postgresql":
        threads = threads[:0]  # SQLite serialises writers: run them in turn instead
        write()
    for thread in threads:
        thread.start()
    for _ in range(5):
        checkpoint_seal()
    stop.set()
    for thread in threads:
        thread.join()
    assert not errors, errors
    checkpoint_seal()

    sizes = list(Checkpoint.objects.order_by("size").values_list("size", flat=True))
    assert sizes == sorted(set(sizes))
    assert sizes[-1] <= AuditEvent.objects.count()
    report = verify(bundle())
    assert report.ok, report.problems
