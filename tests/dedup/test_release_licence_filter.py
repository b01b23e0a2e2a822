"""The licence filter, searched: a file is published exactly when every record of it allows
reuse on the release day; every record left out says why."""

import datetime as dt

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.models import Asset, CatalogueEntry, Licence
from archive.services import collection_get_or_create
from dedup.releases.selection import REUSE_LICENCES, release_select

pytestmark = pytest.mark.django_db
DAY = dt.date(2027, 7, 31)

offsets = st.sampled_from([None, -1, 0, 1])
licences = st.fixed_dictionaries(
    {
        "licence_type": st.sampled_from(Licence.Type.values),
        "valid_from": offsets,
        "valid_until": offsets,
        "restrictions": st.sampled_from(["", "", "no press use"]),
    }
).filter(
    lambda lic: (
        lic["valid_from"] is None
        or lic["valid_until"] is None
        or lic["valid_until"] >= lic["valid_from"]
    )
)
# (which of three files the record describes, whether it is in a released collection,
# its licences)
records = st.lists(
    st.tuples(st.integers(0, 2), st.booleans(), st.lists(licences, max_size=2)),
    min_size=1,
    max_size=7,
)


def _day(offset):
    return None if offset is None else DAY + dt.timedelta(days=offset)


def allows_reuse(licence_specs) -> bool:
    return bool(licence_specs) and all(
        spec["licence_type"] in REUSE_LICENCES
        and not spec["restrictions"]
        and (spec["valid_from"] is None or spec["valid_from"] <= 0)
        and (spec["valid_until"] is None or spec["valid_until"] >= 0)
        for spec in licence_specs
    )


def _assets(collection, numbers=range(1, 4)) -> list[Asset]:
    return Asset.objects.bulk_create(
        Asset(
            sha256=f"{i:064x}",
            size=10,
            format="JPEG",
            width=1,
            height=1,
            storage_key=f"synthetic/{i}",
            collection=collection,
            original_path=f"synthetic/{i}.jpg",
            original_filename=f"{i}.jpg",
        )
        for i in numbers
    )


def test_a_file_is_published_exactly_when_all_its_records_allow_reuse():
    @settings(max_examples=60, deadline=None)
    @given(records)
    def check(specs):
        with transaction.atomic():
            released = collection_get_or_create(name="Released")
            elsewhere = collection_get_or_create(name="Elsewhere")
            assets = _assets(released)
            entries = []
            for index, (asset_index, inside, licence_specs) in enumerate(specs):
                entry = CatalogueEntry.objects.create(
                    asset=assets[asset_index],
                    collection=released if inside else elsewhere,
                    title=f"record {index}",
                )
                for spec in licence_specs:
                    Licence.objects.create(
                        entry=entry,
                        holder="City",
                        licence_type=spec["licence_type"],
                        valid_from=_day(spec["valid_from"]),
                        valid_until=_day(spec["valid_until"]),
                        restrictions=spec["restrictions"],
                    )
                entries.append((entry, asset_index, inside, allows_reuse(licence_specs)))

            selection = release_select(collections=[released], on=DAY)

            expected_files = {
                assets[a].pk
                for _e, a, inside, _ok in entries
                if inside and all(ok for _e2, a2, _i, ok in entries if a2 == a)
            }
            assert {item["asset"] for item in selection.items} == expected_files
            published = {r["entry"] for i in selection.items for r in i["metadata"]["records"]}
            inside = {e.pk for e, _a, i, _ok in entries if i}
            left = {row["entry"]: row["reason"] for row in selection.left_out}
            assert published | set(left) == inside and not published & set(left)
            assert all(left.values())
            for entry, _a, _inside, ok in entries:
                if entry.pk in left and not ok:
                    assert "another record" not in left[entry.pk]
            transaction.set_rollback(True)

    check()


def test_selection_takes_the_same_number_of_queries_whatever_the_number_of_files():
    released = collection_get_or_create(name="Released")
    counts = []
    for numbers in (range(1, 4), range(10, 40)):
        for asset in _assets(released, numbers):
            entry = CatalogueEntry.objects.create(asset=asset, collection=released, title="r")
            Licence.objects.create(entry=entry, holder="City", licence_type="cc0")
        with CaptureQueriesContext(connection) as queries:
            selection = release_select(collections=[released], on=DAY)
        counts.append((len(selection.items), len(queries)))

    assert [files for files, _ in counts] == [3, 33]
    assert counts[0][1] == counts[1][1]
