"""An ingest tree with FIFOs, devices, symlinks and undecodable names: nothing hangs,
nothing outside the tree is read, every entry is accounted for, the batch goes on."""

import os
import signal
from io import StringIO

import pytest
from django.core.management import call_command

from archive.models import Asset, AssetSource, IngestRejection
from tests.conftest import image_bytes, make_image, make_scene


@pytest.fixture
def no_hang():
    """Fail the test instead of hanging CI if something blocks on a FIFO or /dev/zero."""

    def expired(signum, frame):
        raise AssertionError("the ingest hung")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _tree(tmp_path):
    root = tmp_path / "tree"
    (root / "sub").mkdir(parents=True)
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(image_bytes(make_scene(7)))
    (root / "good.jpg").write_bytes(image_bytes(make_image("teal")))
    (root / "sub" / "also.png").write_bytes(image_bytes(make_scene(3), "PNG"))
    os.mkfifo(root / "pipe.jpg")
    os.symlink("/dev/zero", root / "zero.jpg")
    os.symlink(outside, root / "escape.jpg")
    os.symlink(root / "good.jpg", root / "inside-link.jpg")
    os.symlink(tmp_path, root / "loop")  # a symlinked folder is never walked into
    bad_name = os.fsdecode(b"caf\xe9-latin1.jpg")  # not valid UTF-8
    (root / bad_name).write_bytes(image_bytes(make_scene(11)))
    return root, outside


def _ingest(root, *extra):
    out = StringIO()
    call_command(
        "ingest", str(root), "--collection", "Hostile", "--no-progress", *extra, stdout=out
    )
    return out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize("workers", ["1", "2"])
def test_hostile_entries_are_refused_and_the_rest_stored(tmp_path, no_hang, workers):
    root, outside = _tree(tmp_path)

    summary = _ingest(root, "--workers", workers)

    stored = set(AssetSource.objects.values_list("path", flat=True))
    refused = dict(IngestRejection.objects.values_list("path", "reason"))
    assert stored == {
        str(root / "good.jpg"),
        str(root / "sub" / "also.png"),
        str(root) + "/caf\\xe9-latin1.jpg",
    }
    assert "FIFO" in refused[str(root / "pipe.jpg")]
    assert "not followed" in refused[str(root / "zero.jpg")]
    assert "not followed" in refused[str(root / "escape.jpg")]
    assert "not followed" in refused[str(root / "loop")]
    assert set(stored) | set(refused) == {
        str(root / name)
        for name in ("good.jpg", "pipe.jpg", "zero.jpg", "escape.jpg", "inside-link.jpg", "loop")
    } | {str(root / "sub" / "also.png"), str(root) + "/caf\\xe9-latin1.jpg"}
    assert not Asset.objects.filter(original_path=str(outside)).exists()
    assert "errors: 5" in summary


@pytest.mark.django_db
def test_follow_symlinks_reads_links_inside_the_tree_only(tmp_path, no_hang):
    root, outside = _tree(tmp_path)
    os.symlink(root / "pipe.jpg", root / "pipe-link.jpg")

    _ingest(root, "--workers", "1", "--follow-symlinks")

    refused = dict(IngestRejection.objects.values_list("path", "reason"))
    assert "outside the ingest folder" in refused[str(root / "escape.jpg")]
    assert "outside the ingest folder" in refused[str(root / "zero.jpg")]
    assert "link to a FIFO" in refused[str(root / "pipe-link.jpg")]
    assert "FIFO" in refused[str(root / "pipe.jpg")]
    assert not Asset.objects.filter(original_path=str(outside)).exists()
    # The link inside the tree names bytes already stored from good.jpg: no second asset.
    assert Asset.objects.count() == 3


@pytest.mark.django_db
def test_running_again_does_not_file_the_same_refusals_twice(tmp_path, no_hang):
    root, _ = _tree(tmp_path)
    _ingest(root, "--workers", "1")
    first = IngestRejection.objects.count()

    summary = _ingest(root, "--workers", "1")

    assert IngestRejection.objects.count() == first == 5
    assert "errors: 5" in summary
