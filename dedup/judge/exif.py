"""EXIF evidence: was this the same capture, a burst, a bracket, or another camera?

Reads the plain-JSON EXIF Keepsake keeps on every asset (archive.imaging.exif_extract).
DateTimeOriginal alone proves little (editors copy it, cameras without a clock repeat
it), so a series or bracket is only called when the camera agrees or sub-second times,
counters or exposure settings say so.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone

# Two captures by one camera this close in time are a burst (or a series); exposure
# differences within it are a bracket.
BURST_SECONDS = 2.0
# Exposure settings closer than these are the same setting written twice.
BIAS_TOLERANCE_EV = 0.3
EXPOSURE_TIME_RATIO = 1.25
# Time-zone corrections shift whole quarter hours and keep the sub-seconds.
ZONE_STEP_SECONDS = 900
# Counters and ids that carry no information (unset or placeholder values).
_BLANK_ID = re.compile(r"^[0\s-]*$")
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


def capture_time(*, exif: dict, subseconds: bool = True) -> tuple[datetime | None, bool]:
    """DateTimeOriginal with sub-seconds and offset, and whether the offset was known."""
    raw = exif.get("DateTimeOriginal")
    if not isinstance(raw, str):
        return None, False
    try:
        moment = datetime.strptime(raw.strip()[:19], "%Y:%m:%d %H:%M:%S")  # noqa: DTZ007
    except ValueError:
        return None, False  # "0000:00:00 00:00:00" and other placeholders
    digits = _subsec_digits(exif)
    if subseconds and digits:
        try:
            moment += timedelta(seconds=int(digits) / 10 ** len(digits))
        except OverflowError:  # 9999-12-31 23:59:59 plus a fraction
            pass
    match = _OFFSET.match(str(exif.get("OffsetTimeOriginal") or "").strip())
    if not match:
        return moment, False
    sign, hours, minutes = match.groups()
    offset = timedelta(hours=int(hours), minutes=int(minutes)) * (-1 if sign == "-" else 1)
    if abs(offset) >= timedelta(hours=24):
        return moment, False  # not an offset any clock uses
    return moment.replace(tzinfo=timezone(offset)), True


def _subsec_digits(exif: dict) -> str:
    # Nanoseconds are more than any camera writes; longer runs are junk, not precision.
    return re.sub(r"\D", "", str(exif.get("SubSecTimeOriginal") or ""))[:9]


def _text(value) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def _camera(exif: dict) -> str | None:
    make, model = _text(exif.get("Make")), _text(exif.get("Model"))
    if make and model and model.lower().startswith(make.lower()):
        return model
    return " ".join(p for p in (make, model) if p) or None


def _number(value) -> float | None:
    """A finite number from a hostile value: a number, a numeric string or a rational pair."""
    if isinstance(value, bool):
        return None
    if isinstance(value, list | tuple):
        if len(value) != 2:
            return None
        numerator, denominator = (_number(part) for part in value)
        if numerator is None or not denominator:
            return None
        value = numerator / denominator
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _identifier(value) -> str | None:
    text = _text(value)
    return None if text is None or _BLANK_ID.match(text) else text


def _same(a, b) -> bool | None:
    """Equal, different, or None when either side does not say."""
    if a is None or b is None:
        return None
    return str(a).lower() == str(b).lower()


def _seconds_apart(exif_a: dict, exif_b: dict) -> tuple[float | None, bool]:
    # Editors often drop SubSecTimeOriginal: with it on one side only, whole seconds count.
    subseconds = bool(_subsec_digits(exif_a)) == bool(_subsec_digits(exif_b))
    time_a, zoned_a = capture_time(exif=exif_a, subseconds=subseconds)
    time_b, zoned_b = capture_time(exif=exif_b, subseconds=subseconds)
    if time_a is None or time_b is None:
        return None, False
    if zoned_a != zoned_b:
        # One side lacks an offset: compare wall-clock times, as the camera wrote them.
        time_a, time_b = time_a.replace(tzinfo=None), time_b.replace(tzinfo=None)
    return round(abs((time_b - time_a).total_seconds()), 3), zoned_a and zoned_b


def exif_compare(*, exif_a: dict, exif_b: dict) -> dict:
    """Side-by-side EXIF facts that tell captures apart, as plain JSON values."""
    seconds, zoned = _seconds_apart(exif_a, exif_b)
    time_a, time_b = capture_time(exif=exif_a)[0], capture_time(exif=exif_b)[0]
    serial_a = _identifier(exif_a.get("BodySerialNumber"))
    serial_b = _identifier(exif_b.get("BodySerialNumber"))
    uid_a, uid_b = (
        _identifier(exif_a.get("ImageUniqueID")),
        _identifier(exif_b.get("ImageUniqueID")),
    )
    return {
        "capture_time_a": time_a.isoformat() if time_a else None,
        "capture_time_b": time_b.isoformat() if time_b else None,
        "seconds_apart": seconds,
        "time_zones_known": zoned,
        "camera_a": _camera(exif_a),
        "camera_b": _camera(exif_b),
        "same_camera": _same(_camera(exif_a), _camera(exif_b)),
        "body_serial_a": serial_a,
        "body_serial_b": serial_b,
        "same_body": _same(serial_a, serial_b),
        "exposure_bias_a": _number(exif_a.get("ExposureBiasValue")),
        "exposure_bias_b": _number(exif_b.get("ExposureBiasValue")),
        "exposure_time_a": _number(exif_a.get("ExposureTime")),
        "exposure_time_b": _number(exif_b.get("ExposureTime")),
        "image_number_a": _number(exif_a.get("ImageNumber")),
        "image_number_b": _number(exif_b.get("ImageNumber")),
        "same_image_unique_id": _same(uid_a, uid_b),
        "orientation_a": _number(exif_a.get("Orientation")) or 1,
        "orientation_b": _number(exif_b.get("Orientation")) or 1,
    }


def _zone_shift(seconds: float) -> bool:
    """A whole number of quarter hours: a corrected clock, not another capture."""
    return seconds >= ZONE_STEP_SECONDS and abs(seconds % ZONE_STEP_SECONDS) < 0.001


def _one_camera(facts: dict) -> bool | None:
    """Same body by serial, else by make and model; None when EXIF does not tell."""
    if facts["same_body"] is not None:
        return facts["same_body"]
    return facts["same_camera"]


def _signed_ev(value: float) -> str:
    return "0 EV" if abs(value) < 0.05 else f"{value:+g} EV".replace("-", "\u2212")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:g} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


def _within(facts: dict) -> str:
    seconds = facts["seconds_apart"]
    if seconds is None:
        return "capture times unknown"
    time_a, time_b = facts["capture_time_a"], facts["capture_time_b"]
    if time_a[:19] == time_b[:19]:
        return "within the same second"
    return f"{_duration(seconds)} apart"


def _bracket(facts: dict) -> str | None:
    seconds = facts["seconds_apart"]
    close = seconds is not None and seconds <= BURST_SECONDS
    bias_a, bias_b = facts["exposure_bias_a"], facts["exposure_bias_b"]
    if bias_a is not None and bias_b is not None and abs(bias_a - bias_b) >= BIAS_TOLERANCE_EV:
        label = "bracket" if close or seconds is None else "different exposure compensation"
        return (
            f"exposure bias {_signed_ev(bias_a)} vs {_signed_ev(bias_b)} {_within(facts)}: {label}"
        )
    time_a, time_b = facts["exposure_time_a"], facts["exposure_time_b"]
    if close and time_a and time_b and max(time_a, time_b) / min(time_a, time_b) >= 1.25:
        return f"exposure time {time_a:g} s vs {time_b:g} s {_within(facts)}: bracket"
    return None


def _series(facts: dict) -> str | None:
    seconds, one_camera = facts["seconds_apart"], _one_camera(facts)
    number_a, number_b = facts["image_number_a"], facts["image_number_b"]
    if one_camera and number_a is not None and number_b is not None and number_a != number_b:
        return f"same camera, frames {number_a:g} and {number_b:g}: series"
    if seconds is None or seconds == 0 or _zone_shift(seconds):
        return None
    if seconds <= BURST_SECONDS and one_camera is not False:
        who = "same camera" if one_camera else "camera unknown"
        return f"{who}, {_duration(seconds)} apart: burst"
    return f"captured {_duration(seconds)} apart: different captures"


def exif_signal(*, facts: dict) -> tuple[str, str] | None:
    """('same capture' | 'different capture', reason) when EXIF decides, else None."""
    if facts["same_image_unique_id"] is True:
        return "same capture", "same capture (equal ImageUniqueID)"
    if facts["same_image_unique_id"] is False:
        return "different capture", "different ImageUniqueID: different captures"
    for rule in (_bracket, _series):
        reason = rule(facts)
        if reason:
            return "different capture", reason
    if _one_camera(facts) is False:
        what = "bodies" if facts["same_body"] is False else "cameras"
        names = (
            (facts["body_serial_a"], facts["body_serial_b"])
            if facts["same_body"] is False
            else (facts["camera_a"], facts["camera_b"])
        )
        return "different capture", f"taken with different {what} ({names[0]} vs {names[1]})"
    return None
