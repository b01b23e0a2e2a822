"""Benchmark: publish v1 of a clean dataset of N files, change 10 records, publish v2.

Run on purpose (not part of the test suite):

    .venv/bin/python bench/bench_release.py [--files 2000] [--size-kb 50] [--format ocfl]

Everything lives in a scratch folder (a SQLite database, the storage tiers, the
release): N assets with random bytes and one CC BY record each. Prints the time of each
release and the bytes each version stored (OCFL stores unchanged files once).
"""

import argparse
import datetime as dt
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def load(files: int, size: int, hot: Path):
    from archive.models import Asset, CatalogueEntry, Licence
    from archive.services import collection_get_or_create

    collection = collection_get_or_create(name="Bench")
    assets = []
    for i in range(files):
        data = os.urandom(size)
        sha = hashlib.sha256(data).hexdigest()
        key = f"{sha[:2]}/{sha[2:4]}/{sha}.jpg"
        (hot / key).parent.mkdir(parents=True, exist_ok=True)
        (hot / key).write_bytes(data)
        assets.append(
            Asset(
                sha256=sha,
                size=size,
                format="JPEG",
                width=1,
                height=1,
                storage_key=key,
                collection=collection,
                original_path=f"b/{i}.jpg",
                original_filename=f"{i}.jpg",
            )
        )
    # Synthetic rows: the bench measures the release, not the ingest.
    assets = Asset.objects.bulk_create(assets)
    entries = CatalogueEntry.objects.bulk_create(
        CatalogueEntry(asset=a, collection=collection, title=f"photo {a.pk}") for a in assets
    )
    Licence.objects.bulk_create(
        Licence(entry=e, holder="City", licence_type="cc_by") for e in entries
    )
    return collection, entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--size-kb", type=int, default=50)
    parser.add_argument("--format", choices=["ocfl", "bagit"], default="ocfl")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="keepsake-bench-release-"))
    os.environ["DATABASE_URL"] = f"sqlite:///{scratch / 'bench.sqlite3'}"
    os.environ["KEEPSAKE_MEDIA_ROOT"] = str(scratch / "media")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from archive.actors import SYSTEM
    from archive.models import CatalogueEntry
    from dedup.releases.services import dataset_release

    call_command("migrate", verbosity=0)
    collection, entries = load(args.files, args.size_kb * 1024, scratch / "media" / "hot")
    out = scratch / "release"
    when = dt.datetime(2027, 7, 31, tzinfo=dt.UTC)
    timings = []
    for version in (1, 2):
        if version == 2:
            changed = [e.pk for e in entries[:10]]
            CatalogueEntry.objects.filter(pk__in=changed).update(title="retitled")
        start = time.perf_counter()
        release = dataset_release(
            collections=[collection],
            output=out,
            actor=SYSTEM,
            release_format=args.format,
            released_at=when + dt.timedelta(days=version),
        )
        timings.append(time.perf_counter() - start)
        folder = out / f"v{version}"
        print(
            f"v{version}: {timings[-1]:.1f} s, {release.file_count} files, "
            f"stored {_folder_bytes(folder) / 1e6:.1f} MB in {folder.name}/ "
            f"({len(release.notice['changed_metadata'])} with changed metadata)"
        )
    print(f"scratch folder: {scratch}")


if __name__ == "__main__":
    main()
