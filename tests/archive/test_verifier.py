"""The standalone verifier passes real export bundles and rejects every tampered copy.

Bundles are made by the real export (`export_audit --output X.zip`); the forger in
these tests is strong: after each change it recomputes whatever it can (row hashes,
chain links, member digests, counts), so only the signed checkpoint stands in its way.
"""

import base64
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import CommandError, call_command
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive import verifier
from archive.audit import audit_record
from archive.audit_export import (
    AuditExportFilter,
    _csv_lines,
    _jsonl_lines,
    audit_bundle_write,
    audit_export_filter_parse,
)
from archive.checkpoints import checkpoint_seal, signing_key

pytestmark = pytest.mark.django_db
VERIFIER = Path(verifier.__file__)


def record(verb, actor=None, object_type="archive.asset", object_id=1, **fields):
    with transaction.atomic():
        audit_record(actor=actor, verb=verb, object_type=object_type, object_id=object_id, **fields)


@pytest.fixture
def trail(user, staff):
    """A log with holds, ingests and a checkpoint part way through."""
    record("asset.ingested", actor=user, object_id=1)
    record("legalhold.placed", actor=staff, object_type="archive.legalhold", reason='a "b",\nc')
    record("asset.ingested", actor=user, object_id=2, after={"note": "é ✓", "n": None})
    checkpoint_seal()
    record("legalhold.refused", actor=user, object_id=1, before={"a": [1, 2]})
    record("legalhold.released", actor=staff, object_type="archive.legalhold", reason="=1+1")
    record("asset.ingested", actor=user, object_id=3)
    record("test.event", after={"a": []})


def bundle(filters: AuditExportFilter = AuditExportFilter(), fmt="csv") -> bytes:  # noqa: B008
    out = io.BytesIO()
    audit_bundle_write(fp=out, filters=filters, fmt=fmt, actor=None)
    return out.getvalue()


def public_pem(tmp_path) -> Path:
    path = tmp_path / "archive-key.pem"
    path.write_text(signing_key().public_pem())
    return path


def verify(data: bytes, keys=None) -> verifier.Report:
    keys = keys if keys is not None else [signing_key().public_raw]
    return verifier.bundle_verify(io.BytesIO(data), public_keys=keys)


FILTERED = {
    "verb": ("legalhold.*", None),
    "actor": ("curator", None),
    "object": ("archive.asset:1", None),
}


# --- A bundle, unpacked into what a forger edits ------------------------------------------


class Unpacked:
    def __init__(self, data: bytes):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            self.manifest = json.loads(archive.read("manifest.json"))
            self.fmt = self.manifest["file_format"]
            text = archive.read(f"events.{self.fmt}").decode("utf-8")
            self.rows = list(verifier.rows_read(io.StringIO(text, newline=""), self.fmt))
            self.stubs = [json.loads(x) for x in archive.read("withheld.jsonl").splitlines()]
            self.proofs = [json.loads(x) for x in archive.read("proofs.jsonl").splitlines()]

    def pack(self) -> bytes:
        """Write it back as the export would, with digests and counts made to match."""
        lines = _csv_lines(self.rows) if self.fmt == "csv" else _jsonl_lines(self.rows)
        members = {
            f"events.{self.fmt}": "".join(lines).encode("utf-8"),
            "withheld.jsonl": "".join(json.dumps(s) + "\n" for s in self.stubs).encode(),
            "proofs.jsonl": "".join(json.dumps(p) + "\n" for p in self.proofs).encode(),
        }
        manifest = self.manifest
        manifest["members"] = {
            name: verifier.hashlib.sha256(body).hexdigest() for name, body in members.items()
        }
        manifest["summary"].update(listed=len(self.rows), withheld=len(self.stubs))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            for name, body in members.items():
                archive.writestr(name, body)
            archive.writestr("manifest.json", json.dumps(manifest))
        return out.getvalue()


def rehash(rows: list[dict], start: int = 0) -> None:
    """What a forger does after an edit: re-seal rows and re-link the ones after them."""
    for i in range(start, len(rows)):
        if i > 0 and rows[i]["sequence"] == rows[i - 1]["sequence"] + 1:
            rows[i]["previous_hash"] = rows[i - 1]["hash"]
        rows[i]["hash"] = verifier.event_hash(rows[i])


EDITABLE = ("created_at", "actor_name", "verb", "object_type", "object_id", "reason", "after")


def _changed(value):
    if isinstance(value, str):
        return value + "x"
    return {"forged": value}


@st.composite
def mutations(draw, unpacked: Unpacked):
    """One tampering of the export, as (name, function changing the Unpacked copy)."""
    rows, stubs = unpacked.rows, unpacked.stubs
    kinds = ["edit", "truncate", "insert_end", "forge_checkpoint", "proof", "refilter"]
    if rows:
        kinds += ["delete", "withhold", "duplicate"]
    if len(rows) > 1:
        kinds.append("swap")
    if stubs:
        kinds += ["stub_edit", "stub_delete", "stub_reveal"]
    kind = draw(st.sampled_from(kinds))
    i = draw(st.integers(0, max(len(rows) - 1, 0)))
    resealed = draw(st.booleans())

    def apply(u: Unpacked):
        r = u.rows
        if kind == "edit" and r:
            name = draw(st.sampled_from(EDITABLE))
            r[i][name] = _changed(r[i][name])
            if resealed:
                rehash(r, i)
        elif kind in ("edit", "refilter"):  # claim the export was made with another filter
            filters = u.manifest["filters"]
            original = dict(filters)
            filters["verb"] = draw(st.sampled_from(["nothing.*", "asset.*", None]))
            filters["actor"] = draw(st.sampled_from([None, "curator"]))
            if filters == original:
                filters["verb"] = "other.*"
        elif kind == "delete":
            del r[i]
            del u.proofs[i]
            if resealed:
                rehash(r, i)
        elif kind == "withhold":  # moved out of the listing as if the filter excluded it
            row = r.pop(i)
            u.proofs.pop(i)
            stub = {k: row[k] for k in verifier.STUB_FIELDS}
            u.stubs = sorted([*u.stubs, {**stub, "excluded_by": "verb"}], key=_seq)
        elif kind == "duplicate":
            r.insert(i, dict(r[i]))
            u.proofs.insert(i, dict(u.proofs[i]))
        elif kind == "swap":
            j = (i + 1) % len(r)
            r[i], r[j] = r[j], r[i]
            u.proofs[i], u.proofs[j] = u.proofs[j], u.proofs[i]
        elif kind == "truncate":
            last = max([x["sequence"] for x in r + u.stubs])
            u.rows = [x for x in r if x["sequence"] != last]
            u.stubs = [x for x in u.stubs if x["sequence"] != last]
            u.proofs = [p for p in u.proofs if p["sequence"] != last]
        elif kind == "insert_end":
            last = max([x for x in r + u.stubs], key=_seq)
            forged = {
                **(r[-1] if r else {f: "" for f in verifier.EVENT_FIELDS}),
                "sequence": last["sequence"] + 1,
                "previous_hash": last["hash"],
                "before": None,
                "after": None,
            }
            forged["hash"] = verifier.event_hash(forged)
            u.rows.append(forged)
            u.proofs.append({"sequence": forged["sequence"], "path": []})
        elif kind == "forge_checkpoint":
            u.manifest["checkpoint"]["note"] = resigned(u.manifest["checkpoint"]["note"])
        elif kind == "proof":
            if u.proofs and u.proofs[i % len(u.proofs)]["path"]:
                path = u.proofs[i % len(u.proofs)]["path"]
                path[0] = "00" * 32
            else:  # nothing to corrupt: state another root instead
                u.manifest["checkpoint"]["note"] = resigned(
                    u.manifest["checkpoint"]["note"], root=b"\x00" * 32
                )
        elif kind == "stub_edit":
            k = i % len(u.stubs)
            name = draw(st.sampled_from(["hash", "created_at", "actor_name", "object_id"]))
            u.stubs[k][name] = _changed(u.stubs[k][name])
        elif kind == "stub_delete":
            del u.stubs[i % len(u.stubs)]
        elif kind == "stub_reveal":  # claim a withheld event failed a filter it passes
            u.stubs[i % len(u.stubs)]["excluded_by"] = "since"

    return kind, apply


def _seq(row):
    return row["sequence"]


def resigned(note: str, root: bytes | None = None) -> str:
    """The same checkpoint (or another root) signed with a key that is not the archive's."""
    parsed = verifier.checkpoint_parse(note)
    body = parsed.body.decode()
    if root is not None:
        lines = body.split("\n")
        lines[2] = base64.b64encode(root).decode()
        body = "\n".join(lines)
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    kid = verifier.key_id(parsed.origin, raw)
    blob = base64.b64encode(kid + key.sign(body.encode())).decode()
    return f"{body}\n\u2014 {parsed.origin} {blob}\n"


# --- Tests ------------------------------------------------------------------------------------


class TestRealExportsVerify:
    @pytest.mark.parametrize("fmt", ["csv", "jsonl"])
    def test_a_full_export_verifies_with_the_standalone_script(self, tmp_path, trail, fmt):
        path = tmp_path / "trail.zip"
        call_command("export_audit", "--output", str(path), "--format", fmt, stdout=io.StringIO())

        run = subprocess.run(  # noqa: S603 - our own script
            [sys.executable, str(VERIFIER), str(path), "--public-key", str(public_pem(tmp_path))],
            capture_output=True,
            text=True,
            check=False,
            cwd=tmp_path,
            env={"PATH": "/usr/bin:/bin"},
        )

        assert run.returncode == 0, run.stdout + run.stderr
        assert "verifies: 8 events listed, 0 withheld, log of 8 events" in run.stdout
        assert "consistent with the previous checkpoint of 3 events" in run.stdout

    def test_a_filtered_export_names_what_it_left_out_and_why(self, tmp_path, trail):
        path = tmp_path / "holds.zip"
        call_command(
            "export_audit", "--output", str(path), "--verb", "legalhold.*", stdout=io.StringIO()
        )
        out = io.StringIO()

        call_command("verify_audit", "--file", str(path), "--against-database", stdout=out)

        text = out.getvalue()
        assert "verifies: 3 events listed, 5 withheld, log of 8 events" in text
        # 1 ingested, 2 placed, 3 ingested, 4 sealed, 5 refused, 6 released, 7, 8 others
        assert "withheld #1: outside the filter on verb" in text
        assert "withheld #3–#4: outside the filter on verb" in text
        assert "withheld #7–#8: outside the filter on verb" in text

    def test_an_omission_inside_the_filter_is_detected_without_the_database(self, trail):
        """The issue's case: a hold release deleted from a legalhold.* export."""
        u = Unpacked(bundle(audit_export_filter_parse(verb="legalhold.*")))
        released = next(i for i, r in enumerate(u.rows) if r["verb"] == "legalhold.released")
        row = u.rows.pop(released)
        u.proofs.pop(released)

        missing = verify(u.pack())
        stub = {**{k: row[k] for k in verifier.STUB_FIELDS}, "excluded_by": "verb"}
        u.stubs = sorted([*u.stubs, stub], key=_seq)
        hidden = verify(u.pack())

        assert missing.problems == [
            f"event #{row['sequence']} is missing: neither listed nor "
            "withheld (removed from the export)"
        ]
        assert hidden.problems == [
            f"event #{row['sequence']} matches the export's filter but "
            "was withheld (an omission inside the filter)"
        ]

    def test_a_checkpoint_signed_with_another_key_is_refused(self, trail):
        u = Unpacked(bundle())
        u.manifest["checkpoint"]["note"] = resigned(u.manifest["checkpoint"]["note"])

        report = verify(u.pack())

        assert report.problems[0].startswith("the checkpoint is not signed by the archive's")

    def test_the_wrong_public_key_is_refused(self, trail):
        other = Ed25519PrivateKey.generate().public_key()
        raw = other.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

        assert not verify(bundle(), keys=[raw]).ok

    def test_a_checkpoint_rewriting_history_is_refused(self, trail):
        """Signed with the right key, but not an extension of the previous checkpoint."""
        u = Unpacked(bundle())
        previous = verifier.checkpoint_parse(u.manifest["checkpoint"]["previous"]["note"])
        lines = previous.body.decode().split("\n")
        lines[2] = base64.b64encode(b"\x07" * 32).decode()  # another history of 3 events
        body = "\n".join(lines).encode()
        u.manifest["checkpoint"]["previous"]["note"] = (
            body.decode() + "\n" + signing_key().sign(body)
        )

        report = verify(u.pack())

        assert report.problems == [
            "the checkpoint of 8 events is not consistent with the previous one of 3 "
            "(history rewritten)"
        ]


FILTERS = [
    AuditExportFilter(),
    audit_export_filter_parse(verb="legalhold.*"),
    audit_export_filter_parse(actor="archivist"),
    audit_export_filter_parse(obj="archive.asset:1"),
    audit_export_filter_parse(verb="nothing.matches"),
]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
@pytest.mark.parametrize("which", range(len(FILTERS)))
def test_every_tampering_of_a_real_export_is_rejected(trail, which, fmt):
    data = bundle(FILTERS[which], fmt)
    assert verify(data).ok, verify(data).problems
    u0 = Unpacked(data)
    tried = set()

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def search(draw):
        kind, apply = draw.draw(mutations(Unpacked(data)))
        u = Unpacked(data)
        apply(u)
        tampered = u.pack()
        report = verify(tampered)
        assert not report.ok, (kind, u.rows, u.stubs)
        tried.add(kind)

    assert u0.manifest["checkpoint"]["size"] == 8
    search()
    # The search reached most kinds of tampering this export allows, not one by luck.
    assert len(tried) >= 6, tried


def test_a_byte_flipped_member_is_rejected(trail):
    data = bundle(audit_export_filter_parse(verb="asset.*"))

    @settings(max_examples=30, deadline=None)
    @given(st.sampled_from(["events.csv", "withheld.jsonl", "proofs.jsonl"]), st.data())
    def search(name, draw):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = {n: archive.read(n) for n in archive.namelist()}
        body = bytearray(members[name])
        at = draw.draw(st.integers(0, len(body) - 1))
        body[at] ^= draw.draw(st.integers(1, 255))
        members[name] = bytes(body)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            for n, b in members.items():
                archive.writestr(n, b)
        assert not verify(out.getvalue()).ok

    search()


def test_verify_audit_refuses_a_tampered_bundle(tmp_path, trail):
    u = Unpacked(bundle())
    u.rows[2]["reason"] = "nothing happened"
    rehash(u.rows, 2)
    path = tmp_path / "forged.zip"
    path.write_bytes(u.pack())

    with pytest.raises(CommandError, match="event #3's inclusion proof does not verify"):
        call_command("verify_audit", "--file", str(path), stdout=io.StringIO())


def test_the_verifier_needs_only_the_standard_library_and_cryptography():
    import ast

    tree = ast.parse(VERIFIER.read_text(encoding="utf-8"))
    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }

    assert imported - set(sys.stdlib_module_names) == {"cryptography"}
