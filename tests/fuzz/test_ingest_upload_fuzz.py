"""Fuzz the two doors files come in by: the `ingest` command (1 and 2 workers) and uploads.

Every hand-made malformed kind (tests/fuzz/malformed.py) and mutations of a valid file of
every format Pillow reads and writes here go through both. Whatever the bytes: the batch
never aborts, nothing hangs, no answer is a 5xx, and every file is accounted for, stored
or rejected with a recorded reason (files in = stored + rejected). CI runs a bounded
corpus; `make fuzz` sets KEEPSAKE_FUZZ_EXAMPLES (and KEEPSAKE_FUZZ_RANDOM) for more.
"""

import faulthandler
import io
import os
from collections import Counter
from contextlib import contextmanager
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.files import printable_path
from archive.models import AssetSource, IngestRejection
from tests.api.conftest import members, token_client  # noqa: F401 - members is a fixture
from tests.fuzz.malformed import malformed_cases, seed_images, seed_name
from tests.fuzz.mutations import mutate

EXAMPLES = int(os.environ.get("KEEPSAKE_FUZZ_EXAMPLES", "40"))
# Ingest examples carry several files and start a command each: fewer of them in CI.
INGEST_EXAMPLES = max(4, EXAMPLES // 6)
HANG_SECONDS = 120
SEEDS = seed_images()
TALLY = Counter()

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # Pillow: the IM format
]
fuzz_settings = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("KEEPSAKE_FUZZ_RANDOM"),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module", autouse=True)
def tally():
    """Count files tried and failures; `make fuzz` prints the figures the README quotes."""
    yield TALLY
    print(
        f"\nfuzz: {TALLY['ingest']} files through ingest, {TALLY['upload']} uploads, "
        f"{TALLY['failures']} failures"
    )


@contextmanager
def no_hang():
    """A thread watchdog per batch or upload (SIGALRM is the ingest's own per-file limit):
    past HANG_SECONDS the stacks are dumped and the run dies, a hang CI cannot miss."""
    faulthandler.dump_traceback_later(HANG_SECONDS, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


# ------------------------------------------------------------------ ingest


def _write_tree(root, files: list[tuple[str | bytes, bytes]]) -> list[str]:
    """Write files under root (each in its own numbered name); their printable paths."""
    root.mkdir(parents=True, exist_ok=True)
    shown = []
    for number, (name, data) in enumerate(files):
        raw = name if isinstance(name, bytes) else name.encode()
        path = os.path.join(os.fsencode(root), b"%03d-" % number + raw.replace(b"/", b"_"))
        with open(path, "wb") as handle:
            handle.write(data)
        shown.append(printable_path(os.fsdecode(path)))
    return shown


def _ingest_and_account(root, files, workers: int, collection: str) -> None:
    shown = _write_tree(root, files)
    out = StringIO()
    try:
        with no_hang():
            call_command(
                "ingest",
                str(root),
                "--collection",
                collection,
                "--workers",
                str(workers),
                "--no-progress",
                "--file-seconds",
                "60",
                stdout=out,
            )
    except BaseException:
        TALLY["failures"] += 1
        raise  # a batch abort
    stored = set(
        AssetSource.objects.filter(collection__name=collection).values_list("path", flat=True)
    )
    rejected = dict(
        IngestRejection.objects.filter(collection__name=collection).values_list("path", "reason")
    )
    TALLY["ingest"] += len(shown)
    missing = set(shown) - stored - set(rejected)
    if missing or stored & set(rejected) or not all(rejected.values()):
        TALLY["failures"] += 1
    assert not missing, f"files neither stored nor rejected: {sorted(missing)}"
    assert not stored & set(rejected)
    assert all(rejected.values()), "every rejection says why"
    assert f"errors: {len(rejected)}" in out.getvalue()


@pytest.mark.parametrize("workers", [1, 2])
def test_every_malformed_kind_through_ingest(tmp_path, workers):
    cases = malformed_cases()
    assert len({name for name, _ in cases}) == len(cases) >= 30

    _ingest_and_account(tmp_path / "tree", cases, workers, f"Malformed {workers}")


@st.composite
def mutated(draw, *, name_of=seed_name):
    fmt = draw(st.sampled_from(sorted(SEEDS)))
    return name_of(fmt), mutate(draw, SEEDS[fmt])


@settings(fuzz_settings, max_examples=INGEST_EXAMPLES)
@given(files=st.lists(mutated(), min_size=1, max_size=6), workers=st.sampled_from([1, 2]))
def test_mutated_images_through_ingest(tmp_path_factory, files, workers):
    root = tmp_path_factory.mktemp("mutated")
    _ingest_and_account(root / "tree", files, workers, f"Mutated {root.name}")


# ------------------------------------------------------------------ upload


@pytest.fixture
def uploader(members):  # noqa: F811 - the fixture imported above
    """An Archivist who may also upload (add_asset, add_collection), with a token."""
    archivist = members["Archivist"]
    archivist.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="archive", codename__in=["add_asset", "add_collection"]
        )
    )
    return token_client(type(archivist).objects.get(pk=archivist.pk))


def _upload_and_account(client, name: str | bytes, data: bytes, path: str) -> None:
    if isinstance(name, bytes):
        # A multipart file name travels as text; the bytes become their Latin-1 reading.
        name = name.decode("latin-1")
    fp = io.BytesIO(data)
    fp.name = name
    with no_hang():
        response = client.post(
            "/api/v1/assets/",
            {"file": fp, "collection": "Uploads", "path": path},
            format="multipart",
        )
    TALLY["upload"] += 1
    stored = AssetSource.objects.filter(path=path).exists()
    rejected = IngestRejection.objects.filter(path=path).exclude(reason="").exists()
    ok = response.status_code < 500 and (
        (response.status_code in (200, 201) and stored)
        or (400 <= response.status_code < 500 and rejected and "error" in response.json())
    )
    if not ok:
        TALLY["failures"] += 1
    assert response.status_code < 500, (name, response.status_code)
    assert ok, (name, response.status_code, response.content[:300])


def test_every_malformed_kind_through_upload(uploader):
    for number, (name, data) in enumerate(malformed_cases()):
        _upload_and_account(uploader, name, data, f"malformed/{number}")


@fuzz_settings
@given(case=mutated())
def test_mutated_images_through_upload(uploader, case):
    name, data = case
    TALLY["upload-examples"] += 1
    _upload_and_account(uploader, name, data, f"mutated/{TALLY['upload-examples']}")
