"""Every EXIF value the judge reads is hostile until parsed: any type, any length.

Asset EXIF is JSON kept from the file (strings, numbers, lists, nesting, NULs, huge
sub-seconds, impossible dates); comparing two such records, explaining the signal and
reading the capture time must never raise.
"""

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.imaging import exif_value
from dedup.judge.exif import capture_time, exif_compare, exif_signal

EXAMPLES = int(os.environ.get("KEEPSAKE_FUZZ_EXAMPLES", "60"))
TAGS = [
    "Make",
    "Model",
    "Orientation",
    "DateTime",
    "DateTimeOriginal",
    "SubSecTimeOriginal",
    "OffsetTimeOriginal",
    "ExposureBiasValue",
    "ExposureTime",
    "FNumber",
    "ISOSpeedRatings",
    "FocalLength",
    "BodySerialNumber",
    "ImageUniqueID",
    "ImageNumber",
    "LensModel",
]
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(
        ["2024:05:01 10:00:00", "0000:00:00 00:00:00", "2024:13:45 25:61:61", "9" * 400, "\x00"]
    )
)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4), max_leaves=8)
exif_dicts = st.dictionaries(st.sampled_from(TAGS), json_values, max_size=len(TAGS))


@settings(
    max_examples=EXAMPLES * 3,
    deadline=None,
    derandomize=not os.environ.get("KEEPSAKE_FUZZ_RANDOM"),
    suppress_health_check=[HealthCheck.too_slow],
)
@given(exif_dicts, exif_dicts)
def test_any_exif_pair_is_compared_and_explained_without_error(exif_a, exif_b):
    facts = exif_compare(exif_a=exif_a, exif_b=exif_b)
    exif_signal(facts=facts)
    for exif in (exif_a, exif_b):
        capture_time(exif=exif)
        capture_time(exif=exif, subseconds=False)


@settings(max_examples=EXAMPLES * 3, deadline=None, derandomize=True)
@given(
    st.recursive(
        st.binary(max_size=64) | st.text(max_size=64) | st.integers() | st.floats(),
        lambda inner: st.lists(inner, max_size=4).map(tuple),
        max_leaves=8,
    )
)
def test_raw_tag_values_become_json_or_nothing(value):
    """The ingest-side parser turns any tag value Pillow may hand over into JSON or None."""
    import json

    json.dumps(exif_value(value), allow_nan=False)
