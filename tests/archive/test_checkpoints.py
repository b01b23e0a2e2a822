"""Sealing the audit log: RFC 9162 trees and proofs, signed checkpoints, refusals, rotation."""

import hashlib
import io

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.db import transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from archive import verifier
from archive.audit import audit_record
from archive.checkpoints import (
    MerkleTree,
    checkpoint_covering,
    checkpoint_proof,
    checkpoint_seal,
    consistency_proof,
    signing_key,
    tree_from_log,
)
from archive.errors import ArchiveError
from archive.models import AuditEvent, Checkpoint

# --- The tree against RFC 9162's recursive definitions ---------------------------------------


def mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return verifier.node_hash(mth(leaves[:k]), mth(leaves[k:]))


def path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) <= 1:
        return []
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if m < k:
        return [*path(m, leaves[:k]), mth(leaves[k:])]
    return [*path(m - k, leaves[k:]), mth(leaves[:k])]


def leaves_of(n: int) -> list[bytes]:
    return [verifier.leaf_hash(str(i).encode()) for i in range(n)]


def built(leaves: list[bytes]) -> MerkleTree:
    tree = MerkleTree()
    for leaf in leaves:
        tree.append(leaf)
    tree.build()
    return tree


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300), st.data())
def test_roots_and_proofs_follow_rfc_9162(n, data):
    leaves = leaves_of(n)
    tree = built(leaves)
    index = data.draw(st.integers(0, n - 1))
    first = data.draw(st.integers(1, n))
    subtree = built(leaves[:first])

    assert tree.root() == mth(leaves) == verifier.merkle_root(leaves)
    assert tree.inclusion_path(index) == path(index, leaves)
    assert verifier.inclusion_verify(
        index=index, size=n, leaf=leaves[index], path=tree.inclusion_path(index), root=tree.root()
    )
    proof = tree.consistency(first)
    assert verifier.consistency_verify(
        first=first, second=n, first_root=subtree.root(), second_root=tree.root(), path=proof
    )
    assert proof == consistency_proof(first, n, lambda lo, hi: mth(leaves[lo:hi]))


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 200), st.data())
def test_a_wrong_proof_never_verifies(n, data):
    leaves = leaves_of(n)
    tree = built(leaves)
    index = data.draw(st.integers(0, n - 1))
    good = tree.inclusion_path(index)
    other = data.draw(st.integers(0, n - 1).filter(lambda i: i != index))
    first = data.draw(st.integers(1, n - 1))
    consistency = tree.consistency(first)
    at = data.draw(st.integers(0, max(len(consistency) - 1, 0)))
    bent = [h if i != at else b"\x00" * 32 for i, h in enumerate(consistency)]

    assert not verifier.inclusion_verify(
        index=other, size=n, leaf=leaves[index], path=good, root=tree.root()
    )
    assert not verifier.inclusion_verify(
        index=index, size=n, leaf=leaves[index], path=good[:-1], root=tree.root()
    )
    assert not verifier.consistency_verify(
        first=first, second=n, first_root=mth(leaves[:first]), second_root=tree.root(), path=bent
    )
    assert not verifier.consistency_verify(
        first=first,
        second=n,
        first_root=verifier.leaf_hash(b"other history"),
        second_root=tree.root(),
        path=consistency,
    )


def test_the_accumulator_resumes_from_a_frontier():
    leaves = leaves_of(77)
    first = verifier.MerkleAccumulator()
    for leaf in leaves[:45]:
        first.append(leaf)
    resumed = verifier.MerkleAccumulator(first.frontier, 45)
    for leaf in leaves[45:]:
        resumed.append(leaf)

    assert resumed.root() == mth(leaves)


# --- Sealing the stored log ------------------------------------------------------------------

pytestmark = pytest.mark.django_db(transaction=False)


def record(n=1, verb="test.event"):
    for i in range(n):
        with transaction.atomic():
            audit_record(actor=None, verb=verb, object_type="thing", object_id=i)


def test_a_seal_signs_the_tree_over_every_event_and_is_audited(db):
    record(5)

    checkpoint = checkpoint_seal()

    note = verifier.checkpoint_parse(checkpoint.note)
    assert (checkpoint.size, note.size) == (5, 5)
    assert note.root.hex() == checkpoint.root_hash == tree_from_log(size=5).root().hex()
    assert note.chain_hash == AuditEvent.objects.get(sequence=5).hash
    assert verifier.checkpoint_signed_by(note, [signing_key().public_raw])
    sealed = AuditEvent.objects.get(verb="audit.sealed")
    assert sealed.sequence == 6 and sealed.after["size"] == 5


def test_only_seals_since_the_last_checkpoint_make_no_new_one(db):
    record(3)
    first = checkpoint_seal()

    assert checkpoint_seal() == first
    record(1)
    second = checkpoint_seal()
    assert second.size == 5  # 3 events, the seal's own, the new one
    assert Checkpoint.objects.count() == 2


def test_a_seal_refuses_when_history_was_rewritten(db, monkeypatch):
    record(4)
    checkpoint_seal()
    record(2)
    # Another history of the first four events: the stored checkpoint's tree no longer
    # extends to the log the seal would sign.
    Checkpoint.objects.filter(size=4).update(frontier=[verifier.leaf_hash(b"x").hex()])

    with pytest.raises(ArchiveError, match="altered after it was signed"):
        checkpoint_seal()


def test_a_seal_refuses_a_log_that_is_not_an_extension(db, monkeypatch):
    import archive.checkpoints as checkpoints

    record(4)
    checkpoint_seal()
    record(2)
    real = checkpoints.consistency_proof
    monkeypatch.setattr(
        checkpoints, "consistency_proof", lambda m, n, sub: [b"\x01" * 32] + real(m, n, sub)[1:]
    )

    with pytest.raises(ArchiveError, match="not an extension of checkpoint #4"):
        checkpoint_seal()
    assert Checkpoint.objects.count() == 1


def test_a_checkpoint_signed_with_an_unknown_key_stops_the_seal(db, settings):
    record(2)
    checkpoint_seal()
    record(1)
    settings.KEEPSAKE_AUDIT_SIGNING_KEY = new_pem()

    with pytest.raises(ArchiveError, match="not signed by a key this archive holds"):
        checkpoint_seal()


def new_pem() -> str:
    key = Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_a_rotated_key_is_announced_and_cosigned_by_the_old_one(db, settings, tmp_path):
    record(2)
    checkpoint_seal()
    old_public = signing_key().public_raw
    old_file = tmp_path / "old.pem"
    old_file.write_text(settings.KEEPSAKE_AUDIT_SIGNING_KEY)
    settings.KEEPSAKE_AUDIT_PREVIOUS_SIGNING_KEY_FILE = str(old_file)
    settings.KEEPSAKE_AUDIT_SIGNING_KEY = new_pem()
    record(1)

    rotation = checkpoint_seal()
    settings.KEEPSAKE_AUDIT_PREVIOUS_SIGNING_KEY_FILE = ""
    record(1)
    after = checkpoint_seal()

    note = verifier.checkpoint_parse(rotation.note)
    assert note.extensions["previous-key"] == Checkpoint.objects.get(size=2).key_id
    assert verifier.checkpoint_signed_by(note, [old_public])
    trusted = verifier.keys_follow_rotations([old_public], [rotation.note])
    later = verifier.checkpoint_parse(after.note)
    assert verifier.checkpoint_signed_by(later, [old_public]) is None
    assert verifier.checkpoint_signed_by(later, trusted) == signing_key().public_raw


def test_the_checkpoint_covering_an_event_and_its_proof(db):
    record(3)
    first = checkpoint_seal()
    record(3)
    second = checkpoint_seal()

    assert checkpoint_covering(2) == first
    assert checkpoint_covering(5) == second
    assert checkpoint_covering(99) is None
    proof = [bytes.fromhex(h) for h in checkpoint_proof(sequence=5, checkpoint=second)]
    leaf = tree_from_log(size=second.size).node(0, 4)
    assert verifier.inclusion_verify(
        index=4, size=second.size, leaf=leaf, path=proof, root=bytes.fromhex(second.root_hash)
    )


def test_checkpoints_are_never_changed_or_deleted(db):
    record(1)
    checkpoint = checkpoint_seal()
    checkpoint.note = "forged"

    with pytest.raises(ArchiveError, match="never changed"):
        checkpoint.save()
    with pytest.raises(ArchiveError, match="never deleted"):
        checkpoint.delete()


def test_seal_audit_prints_the_checkpoint_and_the_public_key(db):
    record(2)
    out, key = io.StringIO(), io.StringIO()

    call_command("seal_audit", stdout=out)
    call_command("seal_audit", "--public-key", stdout=key)
    proof = io.StringIO()
    call_command("seal_audit", "--prove", "1", stdout=proof)

    assert "checkpoint #2" in out.getvalue()
    assert verifier.public_key_load(key.getvalue().encode()) == signing_key().public_raw
    assert '"sequence": 1' in proof.getvalue()


def test_the_seal_is_a_scheduled_task(settings):
    names = [entry["func"] for entry in settings.KEEPSAKE_SCHEDULES]

    assert "archive.checkpoints.checkpoint_seal_task" in names
    assert "archive.checkpoints.checkpoint_seal_task" in settings.KEEPSAKE_SCHEDULABLE_TASKS
