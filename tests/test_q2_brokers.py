"""django-q2 end to end on both brokers: a real cluster (sentinel, pusher, worker, monitor
processes) takes an enqueued task from the broker, runs it and records the result.

The ORM broker is the default (the queue is a table); Redis is the production broker
(`KEEPSAKE_REDIS_URL`). The Redis test uses KEEPSAKE_TEST_REDIS_URL when set, else starts
Debian's redis-server on a free loopback port; it skips when neither is there, except in
CI (KEEPSAKE_REQUIRE_REDIS=1, set by .ci/run), where a missing Redis fails.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from django.db import connection
from django_q.brokers import Broker
from django_q.cluster import Cluster
from django_q.conf import Conf
from django_q.models import OrmQ, Success
from django_q.tasks import async_task

from archive.models import Collection
from archive.services import collection_get_or_create

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def record_marker(path: str, text: str, collection: str) -> str:
    """The task: leave an effect in the file system and in the database, return a value."""
    Path(path).write_text(text)
    collection_get_or_create(name=collection)
    return f"wrote {text}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path):
    """A Redis server on loopback: CI's, or one started here for the test."""
    url = os.environ.get("KEEPSAKE_TEST_REDIS_URL")
    if url:
        yield url
        return
    if not os.path.exists(REDIS_SERVER):
        if os.environ.get("KEEPSAKE_REQUIRE_REDIS") == "1":
            pytest.fail("KEEPSAKE_REQUIRE_REDIS=1 but redis-server is not installed")
        pytest.skip("redis-server is not installed (CI installs it)")
    port = _free_port()
    server = subprocess.Popen(  # noqa: S603
        [
            REDIS_SERVER,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def q_conf(monkeypatch):
    """Run tasks through the broker (not inline), one worker, no scheduler."""
    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setattr(Conf, "WORKERS", 1)
    monkeypatch.setattr(Conf, "SCHEDULER", False)
    monkeypatch.setattr(Conf, "POLL", 0.1)
    monkeypatch.setattr(Conf, "CLUSTER_NAME", f"keepsake-test-{os.getpid()}")
    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    yield Conf
    signal.signal(signal.SIGTERM, handlers[0])
    signal.signal(signal.SIGINT, handlers[1])


def _run_until(broker: Broker, done, timeout: float = 60) -> None:
    """Start a real cluster on `broker`, wait until done() holds, stop it."""
    connection.close()  # the forked processes open their own connections
    cluster = Cluster(broker)
    cluster.start()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not done():
            time.sleep(0.1)
    finally:
        cluster.stop()


def _enqueue_and_run(broker: Broker, tmp_path: Path, name: str) -> str:
    marker = tmp_path / f"{name}.txt"
    task_id = async_task(
        "tests.test_q2_brokers.record_marker",
        str(marker),
        f"ran on {name}",
        f"q2 {name}",
        broker=broker,
        task_name=f"q2-{name}",
    )
    assert not marker.exists()  # enqueued, not run inline
    _run_until(broker, lambda: Success.objects.filter(id=task_id).exists())
    assert marker.read_text() == f"ran on {name}"
    assert Collection.objects.filter(name=f"q2 {name}").exists()
    return task_id


@pytest.mark.django_db(transaction=True)
def test_a_worker_runs_a_task_from_the_orm_broker(q_conf, tmp_path, monkeypatch):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite's test database lives in memory, not shared with worker processes")
    from django_q.brokers.orm import ORM

    monkeypatch.setattr(Conf, "ORM", "default")
    broker = ORM(list_key=Conf.CLUSTER_NAME)
    task_id = _enqueue_and_run(broker, tmp_path, "orm")

    assert Success.objects.get(id=task_id).result == "wrote ran on orm"
    assert not OrmQ.objects.filter(key=Conf.CLUSTER_NAME).exists()  # acknowledged


@pytest.mark.django_db(transaction=True)
def test_a_worker_runs_a_task_from_the_redis_broker(q_conf, redis_url, tmp_path, monkeypatch):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite's test database lives in memory, not shared with worker processes")
    from django_q.brokers.redis_broker import Redis

    monkeypatch.setattr(Conf, "REDIS", redis_url)
    monkeypatch.setattr(Conf, "ORM", None)
    broker = Redis(list_key=Conf.CLUSTER_NAME)
    assert broker.ping()
    task_id = _enqueue_and_run(broker, tmp_path, "redis")

    assert Success.objects.get(id=task_id).result == "wrote ran on redis"
    assert broker.queue_size() == 0
    assert not OrmQ.objects.exists()  # the queue was Redis, not the table
