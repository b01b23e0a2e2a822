"""The S3 path: tiers as buckets behind django-storages, against moto's server on loopback."""

import uuid
from types import SimpleNamespace

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

import config.settings
from archive.models import Asset
from retention.models import PendingMove
from retention.moves import asset_move, moves_resume
from retention.purge import disposition_execute
from retention.services import asset_quarantine, asset_restore
from tests.retention.conftest import stored_sha

pytestmark = pytest.mark.django_db

BUCKET = "keepsake-test"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@pytest.fixture(scope="session")
def s3_endpoint():
    """An S3 API server on 127.0.0.1 and a free port, for the whole session."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint, settings, monkeypatch):
    """Point every tier at the bucket through the production settings code (cold: STANDARD_IA)."""
    env = {
        **CREDENTIALS,
        "KEEPSAKE_S3_BUCKET": BUCKET,
        "AWS_S3_ENDPOINT_URL": s3_endpoint,
        "AWS_S3_REGION_NAME": "us-east-1",
        "KEEPSAKE_S3_COLD_STORAGE_CLASS": "STANDARD_IA",
    }
    # Each test gets its own prefixes, so objects left by another test never interfere.
    run = uuid.uuid4().hex[:8]
    for tier in settings.STORAGE_TIERS:
        env[f"KEEPSAKE_S3_{tier.upper()}_PREFIX"] = f"{run}/{tier}"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(config.settings, "STORAGE_BACKEND", "s3")
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    try:
        client.create_bucket(Bucket=BUCKET)
    except ClientError:
        pass  # created by an earlier test of this session
    settings.STORAGES = {
        **settings.STORAGES,
        **{tier: config.settings.tier_storage(tier) for tier in settings.STORAGE_TIERS},
    }
    return SimpleNamespace(client=client, run=run)


def head(s3, tier, key):
    """The object's metadata (None when absent) of key in tier."""
    try:
        return s3.client.head_object(Bucket=BUCKET, Key=f"{s3.run}/{tier}/{key}")
    except ClientError:
        return None


@pytest.fixture
def s3_asset(s3, collection):
    from tests.archive.helpers import ingest_picture

    return ingest_picture(collection=collection, colour="maroon", path="s3/maroon.jpg").asset


def test_a_cold_move_uses_the_cold_storage_class(
    s3, s3_asset, operator, django_capture_on_commit_callbacks
):
    key = s3_asset.storage_key
    assert head(s3, "hot", key) is not None

    with django_capture_on_commit_callbacks(execute=True):
        asset_move(asset=s3_asset, to_alias="cold", actor=operator)

    assert head(s3, "cold", key)["StorageClass"] == "STANDARD_IA"
    assert head(s3, "hot", key) is None
    assert stored_sha(s3_asset) == s3_asset.sha256


def test_a_crashed_move_resumes_on_s3(
    s3, s3_asset, operator, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("retention.moves.move_switch", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        asset_move(asset=s3_asset, to_alias="cold", actor=operator)
    assert stored_sha(s3_asset) == s3_asset.sha256
    monkeypatch.undo()
    PendingMove.objects.update(claimed_until=None)

    with django_capture_on_commit_callbacks(execute=True):
        assert moves_resume() == {"deleted": 1}

    s3_asset.refresh_from_db()
    assert s3_asset.storage_alias == "cold" and stored_sha(s3_asset) == s3_asset.sha256
    assert head(s3, "hot", s3_asset.storage_key) is None


def test_quarantine_restore_and_purge_on_s3(
    s3, s3_asset, user, requester, approver, django_capture_on_commit_callbacks
):
    from retention.policies import policy_change, policy_create
    from retention.purge import disposition_request_approve, disposition_request_create
    from tests.retention.conftest import window_closed
    from tests.retention.test_disposition_execute import policy_current

    key = s3_asset.storage_key
    with django_capture_on_commit_callbacks(execute=True):
        asset_quarantine(asset=s3_asset, reason="r", actor=user)
    assert head(s3, "quarantine", key) and not head(s3, "hot", key)
    with django_capture_on_commit_callbacks(execute=True):
        asset_restore(asset=s3_asset, actor=user)
    assert stored_sha(s3_asset) == s3_asset.sha256 and s3_asset.storage_alias == "hot"

    policy_change(policy=policy_current("originals-keep-forever"), actor=None, keep_forever=False)
    policy_create(key="all", actor=None, name="purge", purge_after_window=True)
    with django_capture_on_commit_callbacks(execute=True):
        asset_quarantine(asset=s3_asset, reason="r", actor=user)
        request = disposition_request_create(assets=[s3_asset], reason="r", actor=requester)
        disposition_request_approve(request=request, actor=approver)
        window_closed(s3_asset)
        disposition_execute(request=request, actor=approver)

    assert Asset.objects.get(pk=s3_asset.pk).state == Asset.State.PURGED
    assert head(s3, "quarantine", key) is None
