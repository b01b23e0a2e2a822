"""Accuracy of Keepsake's duplicate judgement on real photos, beside plain imagehash pHash.

Sources are photos that packages ship: the files inside scikit-image's wheel,
scikit-learn's sample images, and Debian's mate-backgrounds, lomiri-wallpapers-16.04 and
-20.04, palapeli-data and scribus-template (installed here when missing and allowed; each
package's copyright file is checked for a free licence first). From each photo a master is
made (longest edge at most --edge pixels, camera-like EXIF), then labelled files:

- duplicates of each kind: a renamed copy, metadata stripped or rewritten, PNG/WebP
  conversions, recompressions, downscales, rotated pixels vs an EXIF orientation tag,
  crops of 2-10 %, a text watermark, greyscale, pixels turned or mirrored with no tag,
  crops of 20-40 % of the area, centred renderings at another aspect ratio, heavy edits
  (sepia, strong noise, a mount, a mount with a drop shadow), two scans of one print;
  plus pairs the packages ship themselves;
- look-alikes: burst sequences (panned or zoomed crops, EXIF times 0.1-1 s apart, one body
  serial), exposure brackets (+-1 and +-2 EV, same second), a fixed camera (people
  composited at random places on the still photo, fresh sensor noise per frame, no EXIF),
  and natural pairs (MATE colour and light/dark variants of one design, the stereo pair);
- unrelated pairs: every pair of files from different photos.

Keepsake's pipeline is run as the app runs it, outside the database: fingerprints from
dedup.imaging.fingerprint_image, candidates by the app's one candidate rule (same SHA-256,
or the report's join dedup.report.near_pairs: pHash within KEEPSAKE_VERIFY_DISTANCE or
within VARIANT_DISTANCE of a variant hash), dedup.judge.files_judge on both files, then
candidate_keep. Plain pHash is imagehash.phash on the file as
opened, flagged at distance <= 10. A markdown table goes to standard output.

Run: python bench/bench_accuracy.py [--edge 1024] [--workers 2] [--no-install] [--keep DIR]
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageDraw, ImageFilter, ImageFont, ImageOps
from PIL.TiffImagePlugin import IFDRational

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

import imagehash  # noqa: E402
from django.conf import settings  # noqa: E402

from dedup.imaging import fingerprint_image  # noqa: E402
from dedup.judge import (  # noqa: E402
    VARIANT_DISTANCE,
    VERIFY_DISTANCE,
    candidate_keep,
    file_side,
    files_judge,
)
from dedup.report import near_pairs  # noqa: E402

DEBIAN_PACKAGES = [
    "mate-backgrounds",
    "lomiri-wallpapers-16.04",
    "lomiri-wallpapers-20.04",
    "palapeli-data",
    "scribus-template",
]
FREE_LICENCE = re.compile(
    r"GPL|LGPL|GFDL|CC-BY|CC0|public domain|BSD|MIT|Expat|Apache", re.IGNORECASE
)
SKIMAGE_PHOTOS = [
    "astronaut.png", "brick.png", "camera.png", "cell.png", "chelsea.png",
    "clock_motion.png", "coffee.png", "coins.png", "grass.png", "gravel.png",
    "hubble_deep_field.jpg", "ihc.png", "microaneurysms.png", "moon.png",
    "motorcycle_left.png", "retina.jpg", "rocket.jpg", "text.png", "page.png",
]  # fmt: skip
PLAIN_DISTANCE = 10
# The version the README's figures were measured with; the script installs it when absent.
SKLEARN_PIN = "scikit-learn==1.9.1"
MIN_MASTER_EDGE = 200
KINDS = ("exact", "pixel", "derivative", "similar")
SEED = 20240501


@dataclass
class Labelled:
    """The files made, and which pairs of them mean what."""

    groups: dict[str, str] = field(default_factory=dict)  # path -> group
    duplicates: list[tuple[str, str, str, str]] = field(default_factory=list)
    look_alikes: list[tuple[str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, path: Path, group: str) -> str:
        self.groups[str(path)] = group
        return str(path)


# Sources ------------------------------------------------------------------------------


def _run(command: list[str]) -> bool:
    return subprocess.run(command, capture_output=True, check=False).returncode == 0


def _package_files(package: str) -> list[str]:
    listing = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True, check=False)
    return [line for line in listing.stdout.splitlines() if os.path.isfile(line)]


def _licence_ok(package: str, notes: list[str]) -> bool:
    path = Path(f"/usr/share/doc/{package}/copyright")
    if not path.exists():
        notes.append(f"{package}: no copyright file, skipped")
        return False
    text = path.read_text(errors="replace")
    licences = sorted(set(re.findall(r"^License:\s*(\S+)", text, re.MULTILINE)))
    free = bool(licences or FREE_LICENCE.search(text)) and all(
        FREE_LICENCE.search(name) for name in licences
    )
    named = ", ".join(licences) or "public domain (free text)"
    notes.append(f"{package}: {'used' if free else 'skipped'} ({named})")
    return free


def debian_sources(*, install: bool, notes: list[str]) -> dict[str, list[str]]:
    """Install the Debian packages when missing and allowed; return their files."""
    missing = [p for p in DEBIAN_PACKAGES if not _run(["dpkg", "-s", p])]
    if missing and install and os.geteuid() == 0:
        _run(["apt-get", "update"])
        for package in missing:
            env_ok = _run(["apt-get", "install", "-y", "--no-install-recommends", package])
            if not env_ok:
                notes.append(f"{package}: apt-get install failed, skipped")
    found = {}
    for package in DEBIAN_PACKAGES:
        if not _run(["dpkg", "-s", package]):
            notes.append(f"{package}: not installed, skipped")
        elif _licence_ok(package, notes):
            found[package] = _package_files(package)
    return found


def sklearn_sources(*, install: bool, notes: list[str]) -> list[str]:
    """scikit-learn's two sample photos (the files inside the wheel)."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        if not install or not _run([sys.executable, "-m", "pip", "install", SKLEARN_PIN]):
            notes.append("scikit-learn: not installed, its sample images skipped")
            return []
    import importlib

    sklearn = importlib.import_module("sklearn")
    folder = Path(sklearn.__file__).parent / "datasets" / "images"
    return sorted(str(p) for p in folder.glob("*.jpg"))


def skimage_sources() -> list[str]:
    import skimage

    folder = Path(skimage.__file__).parent / "data"
    return [str(folder / name) for name in SKIMAGE_PHOTOS if (folder / name).exists()]


def _pick(files: list[str], pattern: str) -> list[str]:
    rx = re.compile(pattern)
    return sorted(f for f in files if rx.search(f))


def choose_sources(*, install: bool, notes: list[str]) -> tuple[list[str], dict]:
    """Photos to make masters from, and the packages' own related files by role."""
    debian = debian_sources(install=install, notes=notes)
    mate = debian.get("mate-backgrounds", [])
    scribus = debian.get("scribus-template", [])
    photos = skimage_sources() + sklearn_sources(install=install, notes=notes)
    photos += _pick(mate, r"/nature/.*\.jpg$|/Elephants\.jpg$|GreenTraditional|Float-into|/Stripes")
    for package in ("lomiri-wallpapers-16.04", "lomiri-wallpapers-20.04"):
        photos += _pick(debian.get(package, []), r"/backgrounds/[^/]+\.jpg$")
    photos += _pick(debian.get("palapeli-data", []), r"/palapeli/(collection|backgrounds)/.*\.jpg$")
    photos += _pick(scribus, r"/(br2|cal2|menu2)/.*\.jpg$|/teriyaki\.png$|/kites-bw\.png$")
    photos += _pick(scribus, r"scribus_project_de/craigbradney\.jpg$")
    natural = {
        "colour variants": _pick(mate, r"Ubuntu-Mate-.*-no-logo\.png$"),
        "light/dark variants": _pick(mate, r"MATE-Stripes-(Dark|Light)\.png$"),
        "elephants": _pick(mate, r"Elephants_\d+x\d+\.jpg$"),
        "greyscale": _pick(scribus, r"teriyaki-bw\.png$"),
        "copy": _pick(scribus, r"scribus_project_pl/craigbradney\.jpg$"),
    }
    return sorted(dict.fromkeys(photos)), natural


# Making files -------------------------------------------------------------------------


def camera_exif(*, serial: str, when: str, subsec: str | None = None, **extra) -> Image.Exif:
    """EXIF as a camera writes it: make, model, body serial, capture time and exposure."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Keepsake"
    exif[ExifTags.Base.Model] = "Bench Camera"
    ifd = exif.get_ifd(ExifTags.IFD.Exif)
    ifd[ExifTags.Base.DateTimeOriginal] = when
    ifd[ExifTags.Base.OffsetTimeOriginal] = "+01:00"
    ifd[ExifTags.Base.BodySerialNumber] = serial
    ifd[ExifTags.Base.ExposureBiasValue] = IFDRational(extra.get("bias_tenths", 0), 10)
    ifd[ExifTags.Base.ExposureTime] = IFDRational(*extra.get("exposure_time", (1, 250)))
    if subsec is not None:
        ifd[ExifTags.Base.SubsecTimeOriginal] = subsec
    if "number" in extra:
        ifd[ExifTags.Base.ImageNumber] = extra["number"]
    return exif


def flatten(im: Image.Image) -> Image.Image:
    """RGB on white, or L, whatever the source mode."""
    im = ImageOps.exif_transpose(im)
    if im.mode in ("RGBA", "LA", "PA", "P"):
        rgba = im.convert("RGBA")
        canvas = Image.new("RGB", im.size, "white")
        canvas.paste(rgba.convert("RGB"), mask=rgba.getchannel("A"))
        return canvas
    return im if im.mode in ("L", "RGB") else im.convert("RGB")


def save(im: Image.Image, path: Path, fmt: str, exif: Image.Exif | None = None, **params) -> Path:
    if exif is not None:
        params["exif"] = exif
    if fmt == "JPEG" and im.mode not in ("L", "RGB"):
        im = im.convert("RGB")
    # Fast encoder settings: compression effort changes file size, not decoded pixels.
    fast = {"PNG": {"compress_level": 1}, "WEBP": {"method": 0}, "JPEG": {"quality": 90}}
    fast = fast.get(fmt, {})
    im.save(path, fmt, **{**fast, **params})
    return path


def jpeg_with_exif(data: bytes, exif: bytes | None) -> bytes:
    """Replace a JPEG's EXIF segment without re-encoding its image data."""
    out, pos = [data[:2]], 2
    if exif is not None:
        out.append(b"\xff\xe1" + (len(exif) + 2).to_bytes(2, "big") + exif)
    while pos < len(data):
        marker = data[pos : pos + 2]
        if marker == b"\xff\xda":  # start of scan: the rest is image data
            out.append(data[pos:])
            break
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        segment = data[pos : pos + 2 + length]
        if not (marker == b"\xff\xe1" and segment[4:10] == b"Exif\x00\x00"):
            out.append(segment)
        pos += 2 + length
    return b"".join(out)


def exposure(im: Image.Image, ev: float) -> Image.Image:
    """The same scene exposed ev stops brighter or darker (in linear light)."""
    linear = (np.asarray(im, dtype=np.float64) / 255.0) ** 2.2 * (2.0**ev)
    out = np.clip(linear, 0.0, 1.0) ** (1 / 2.2) * 255.0
    return Image.fromarray(np.round(out).astype(np.uint8), mode=im.mode)


def watermark(im: Image.Image) -> Image.Image:
    base = im.convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    size = max(10, base.height // 14)
    font = ImageFont.load_default(size=size)
    ImageDraw.Draw(layer).text(
        (base.width * 0.52, base.height - 1.8 * size),
        "(c) Keepsake Archive",
        fill=(255, 255, 255, 170),
        font=font,
    )
    return Image.alpha_composite(base, layer).convert(im.mode)


def crop(im: Image.Image, share: float, rng: random.Random) -> Image.Image:
    """Remove `share` of the width and of the height, split at random between the sides."""
    w, h = im.size
    fx, fy = rng.random(), rng.random()
    return im.crop(
        (
            round(w * share * fx),
            round(h * share * fy),
            round(w - w * share * (1 - fx)),
            round(h - h * share * (1 - fy)),
        )
    )


@dataclass
class Master:
    name: str
    index: int
    path: Path
    image: Image.Image
    fmt: str
    exif: Image.Exif
    source: str


def master_make(*, source: str, index: int, root: Path, edge: int, notes: list) -> Master | None:
    """The archive's original of one source photo: at most `edge` pixels, camera EXIF."""
    name = f"{index:03d}-{Path(source).stem}"
    with Image.open(source) as opened:
        im = flatten(opened)
    if min(im.size) < MIN_MASTER_EDGE:
        notes.append(f"{name}: smaller than {MIN_MASTER_EDGE} px, skipped")
        return None
    if max(im.size) > edge:
        scale = edge / max(im.size)
        im = im.resize((round(im.width * scale), round(im.height * scale)), Image.LANCZOS)
    fmt = "PNG" if source.endswith(".png") else "JPEG"
    when = f"2019:{1 + index % 12:02d}:{1 + index % 28:02d} 10:{index % 60:02d}:00"
    exif = camera_exif(serial=f"KS{index:04d}", when=when, subsec="00")
    folder = root / name
    folder.mkdir(parents=True)
    path = save(im, folder / f"master.{fmt.lower()}", fmt, exif, quality=92)
    with open(path, "rb") as fp:
        if fingerprint_image(fp=fp).low_information:
            notes.append(f"{name}: flat (low-information) image, kept out of near search, skipped")
            shutil.rmtree(folder)
            return None
    return Master(name, index, path, im, fmt, exif, source)


def _rewritten_exif(master: Master) -> Image.Exif:
    exif = Image.Exif()
    exif.load(master.exif.tobytes())
    exif[ExifTags.Base.Software] = "Archive Migration Tool 3.1"
    exif[ExifTags.Base.Artist] = "City Archive"
    exif[ExifTags.Base.Copyright] = "CC BY 4.0"
    return exif


def _metadata_variants(m: Master, folder: Path) -> list[tuple[str, str, Path]]:
    data = m.path.read_bytes()
    stripped, rewritten = folder / f"stripped{m.path.suffix}", folder / f"rewritten{m.path.suffix}"
    if m.fmt == "JPEG":
        stripped.write_bytes(jpeg_with_exif(data, None))
        rewritten.write_bytes(jpeg_with_exif(data, _rewritten_exif(m).tobytes()))
    else:
        save(m.image, stripped, "PNG")
        save(m.image, rewritten, "PNG", _rewritten_exif(m))
    copy = folder / f"renamed-copy{m.path.suffix}"
    shutil.copyfile(m.path, copy)
    return [
        ("renamed copy", "exact", copy),
        ("metadata stripped", "pixel", stripped),
        ("metadata rewritten", "pixel", rewritten),
    ]


def _decoded(m: Master) -> Image.Image:
    with Image.open(m.path) as im:
        return im.convert(m.image.mode)


def _format_variants(m: Master, folder: Path, exif) -> list[tuple[str, str, Path]]:
    im = _decoded(m)
    made = [
        ("WebP lossless", "pixel", save(im, folder / "a.webp", "WEBP", exif, lossless=True)),
        ("WebP lossy q80", "derivative", save(im, folder / "b.webp", "WEBP", exif, quality=80)),
    ]
    if m.fmt == "JPEG":
        made.append(("JPEG to PNG", "pixel", save(im, folder / "as.png", "PNG", exif)))
    else:
        path = save(im, folder / "as.jpg", "JPEG", exif, quality=90)
        made.append(("PNG to JPEG q90", "derivative", path))
    for quality in (85, 60, 40):
        path = save(im, folder / f"q{quality}.jpg", "JPEG", exif, quality=quality)
        made.append((f"recompressed q{quality}", "derivative", path))
    return made


def _oriented_exif(exif, orientation: int) -> Image.Exif:
    tagged = Image.Exif()
    if exif is not None:
        tagged.load(exif.tobytes())
    tagged[ExifTags.Base.Orientation] = orientation
    return tagged


def _geometry_variants(m: Master, folder: Path, exif, rng) -> list[tuple[str, str, Path]]:
    im, made = _decoded(m), []
    for percent in (75, 50, 25):
        size = (round(im.width * percent / 100), round(im.height * percent / 100))
        path = save(im.resize(size, Image.LANCZOS), folder / f"down{percent}.jpg", "JPEG", exif)
        made.append((f"downscaled to {percent} %", "derivative", path))
    # Pixels stored a quarter turn off, with the tag that turns them back (EXIF 6).
    stored, tag = im.transpose(Image.Transpose.ROTATE_90), _oriented_exif(exif, 6)
    rotated_jpeg = save(stored, folder / "rot.jpg", "JPEG", tag, quality=92)
    made.append(("rotated pixels + orientation tag, JPEG", "derivative", rotated_jpeg))
    rotated_png = save(stored, folder / "rot.png", "PNG", tag)
    made.append(("rotated pixels + orientation tag, PNG", "pixel", rotated_png))
    for percent in (2, 5, 10):
        path = save(crop(im, percent / 100, rng), folder / f"crop{percent}.jpg", "JPEG", exif)
        made.append((f"cropped {percent} %", "derivative", path))
    marked = save(watermark(im), folder / "watermark.jpg", "JPEG", exif)
    made.append(("text watermark", "derivative", marked))
    if im.mode != "L":
        grey = save(im.convert("L"), folder / "grey.jpg", "JPEG", exif)
        made.append(("greyscale", "derivative", grey))
    return made


def _turned_variants(m: Master, folder: Path) -> list[tuple[str, str, Path]]:
    """Pixels turned or mirrored by an editor, with no orientation tag (EXIF dropped)."""
    im, made = _decoded(m), []
    for label, method, name in (
        ("rotated 90° clockwise, no tag", Image.Transpose.ROTATE_270, "turn90"),
        ("rotated 180°, no tag", Image.Transpose.ROTATE_180, "turn180"),
        ("mirrored, no tag", Image.Transpose.FLIP_LEFT_RIGHT, "mirror"),
    ):
        path = save(im.transpose(method), folder / f"{name}.jpg", "JPEG", None, quality=92)
        made.append((label, "derivative", path))
    return made


def _rendering_aspects(size: tuple[int, int]) -> list[tuple[str, float]]:
    w, h = size
    if abs(w / h - 1) < 0.15:
        return [("landscape 16:9", 16 / 9), ("portrait 9:16", 9 / 16)]
    if w > h:
        return [("square 1:1", 1.0), ("portrait 4:5", 4 / 5)]
    return [("square 1:1", 1.0), ("landscape 5:4", 5 / 4)]


def _reframed_variants(m: Master, folder: Path, exif, rng) -> list[tuple[str, str, Path]]:
    """Heavy crops (20-40 % of the area, cut anywhere) and other aspect-ratio renderings."""
    im, made = _decoded(m), []
    for percent in (20, 30, 40):
        share = 1 - (1 - percent / 100) ** 0.5  # of each side, so `percent` of the area
        path = save(crop(im, share, rng), folder / f"heavy{percent}.jpg", "JPEG", exif)
        made.append((f"cropped {percent} % of the area", "derivative", path))
    w, h = im.size
    for _label, aspect in _rendering_aspects(im.size):
        kept_w, kept_h = min(1.0, aspect * h / w), min(1.0, w / (aspect * h))
        if min(kept_w, kept_h) < 0.5:
            continue
        left, top = (1 - kept_w) / 2 * w, (1 - kept_h) / 2 * h
        box = (round(left), round(top), round(left + kept_w * w), round(top + kept_h * h))
        path = save(im.crop(box), folder / f"render-{aspect:.2f}.jpg", "JPEG", exif)
        made.append(("another aspect ratio (centred rendering)", "derivative", path))
    return made


def sepia(im: Image.Image) -> Image.Image:
    grey = np.asarray(im.convert("L"), dtype=np.float64)
    tone = np.stack([grey * 1.07 + 20, grey * 0.95 + 8, grey * 0.72], axis=-1)
    return Image.fromarray(np.clip(tone, 0, 255).astype(np.uint8), mode="RGB")


def grain(im: Image.Image, sigma: float, seed: int) -> Image.Image:
    rgb = np.asarray(im.convert("RGB"), dtype=np.float64)
    noise = np.random.default_rng(seed).normal(0, sigma, rgb.shape)
    return Image.fromarray(np.clip(rgb + noise, 0, 255).astype(np.uint8), mode="RGB")


def bordered(im: Image.Image, *, shadow: bool) -> Image.Image:
    """The picture on a white mount (10 % each side), optionally with a drop shadow."""
    rgb = im.convert("RGB")
    pad_x, pad_y = round(rgb.width * 0.1), round(rgb.height * 0.1)
    canvas = Image.new("RGB", (rgb.width + 2 * pad_x, rgb.height + 2 * pad_y), "white")
    if shadow:
        off = max(3, rgb.width // 60)
        box = (pad_x + off, pad_y + off, pad_x + off + rgb.width, pad_y + off + rgb.height)
        shade = Image.new("L", canvas.size, 0)
        ImageDraw.Draw(shade).rectangle(box, fill=140)
        shade = shade.filter(ImageFilter.GaussianBlur(off))
        canvas.paste((90, 90, 90), mask=shade)
    canvas.paste(rgb, (pad_x, pad_y))
    return canvas


def _edited_variants(m: Master, folder: Path, exif) -> list[tuple[str, str, Path]]:
    """Heavy edits: at least flagged for review (`similar`), `derivative` when proven."""
    im, seed = _decoded(m), SEED + m.index
    edits = (
        ("sepia / old photo", "sepia", sepia(im)),
        ("strong noise (σ 12)", "noise", grain(im, 12.0, seed)),
        ("white border", "border", bordered(im, shadow=False)),
        ("border and drop shadow", "shadow", bordered(im, shadow=True)),
    )
    return [
        (label, "derivative/similar", save(edited, folder / f"edit-{name}.jpg", "JPEG", exif))
        for label, name, edited in edits
    ]


def scan_of(im: Image.Image, *, angle: float, ev: float, share: float, seed: int, rng):
    """One flatbed scan of a print: slightly turned, cropped, exposed, with scanner noise."""
    turned = im.convert("RGB").rotate(angle, resample=Image.BICUBIC, fillcolor=(250, 250, 250))
    return grain(exposure(crop(turned, share, rng), ev), 2.0, seed)


def rescans_make(m: Master, labelled: Labelled, rng: random.Random) -> None:
    """Two scans of one print: flagged, never exact or pixel (never bulk-confirmable)."""
    im = _decoded(m)
    paths = []
    for i, (angle, ev) in enumerate(((rng.uniform(0.3, 1.5), 0.2), (-rng.uniform(0.3, 1.5), -0.2))):
        scan = scan_of(im, angle=angle, ev=ev, share=0.03, seed=SEED + 7 * m.index + i, rng=rng)
        path = save(scan, m.path.parent / f"scan{i}.jpg", "JPEG", None, quality=85)
        paths.append(labelled.add(path, m.name))
    labelled.duplicates.append((paths[0], paths[1], "two scans of one print", "derivative/similar"))


def _figure(draw: ImageDraw.ImageDraw, x: int, y: int, size: int, colour) -> None:
    """A person seen from afar: a body and a head."""
    draw.rounded_rectangle([x, y + size // 3, x + size // 2, y + size * 2], size // 6, fill=colour)
    draw.ellipse([x + size // 12, y, x + size // 2 - size // 12, y + size // 3], fill=colour)


def fixed_camera_make(m: Master, labelled: Labelled, rng: random.Random) -> None:
    """Four frames of a camera that did not move: people walk through, sensor noise differs.

    No EXIF (security and traffic cameras rarely write any): only the pixels can tell.
    """
    still = _decoded(m).convert("RGB")
    paths = []
    size = max(8, still.height // 10)
    for frame in range(4):
        image = still.copy()
        draw = ImageDraw.Draw(image)
        for _ in range(rng.randint(2, 5)):
            x = rng.randrange(0, max(1, still.width - size))
            y = rng.randrange(0, max(1, still.height - 2 * size))
            _figure(draw, x, y, size, tuple(rng.randrange(20, 230) for _ in range(3)))
        image = grain(image, 3.0, SEED + 31 * m.index + frame)
        path = save(image, m.path.parent / f"cctv{frame}.jpg", "JPEG", None, quality=85)
        paths.append(labelled.add(path, m.name))
    for a, b in ((0, 1), (1, 2), (2, 3), (0, 3)):
        labelled.look_alikes.append((paths[a], paths[b], "fixed camera, people moving"))


def duplicates_make(m: Master, labelled: Labelled, rng: random.Random) -> None:
    folder = m.path.parent
    # Editors keep EXIF about half the time; the judgement must work either way.
    exif = m.exif if m.index % 2 == 0 else None
    made = _metadata_variants(m, folder)
    made += _format_variants(m, folder, exif) + _geometry_variants(m, folder, exif, rng)
    made += _turned_variants(m, folder) + _reframed_variants(m, folder, exif, rng)
    made += _edited_variants(m, folder, exif)
    master = labelled.add(m.path, m.name)
    for transform, expected, path in made:
        labelled.duplicates.append((master, labelled.add(path, m.name), transform, expected))


def _stamp(moment) -> tuple[str, str]:
    return moment.strftime("%Y:%m:%d %H:%M:%S"), f"{moment.microsecond // 1000:03d}"


def burst_make(m: Master, labelled: Labelled, rng: random.Random) -> None:
    """Three frames a fraction of a second apart: a panning or a zooming burst."""
    zoom, im = m.index % 2 == 1, _decoded(m)
    start = datetime(2021, 6, 1, 12, 0, 0, tzinfo=UTC)
    moment = start + timedelta(days=m.index, milliseconds=120)
    paths = []
    for frame in range(3):
        kept = 0.92 - 0.04 * frame if zoom else 0.85
        left = (1 - kept) / 2 if zoom else 0.02 + 0.03 * frame
        top = (1 - kept) / 2 if zoom else 0.04 + 0.015 * frame
        box = (left * im.width, top * im.height, (left + kept) * im.width, (top + kept) * im.height)
        when, subsec = _stamp(moment)
        extra = {"number": 100 + frame} if m.index % 3 == 0 else {}
        exif = camera_exif(serial=f"BURST{m.index:04d}", when=when, subsec=subsec, **extra)
        path = m.path.parent / f"burst{frame}.jpg"
        save(im.crop(tuple(round(v) for v in box)), path, "JPEG", exif, quality=90)
        paths.append(labelled.add(path, m.name))
        moment += timedelta(seconds=rng.uniform(0.1, 1.0))
    label = "burst, zooming" if zoom else "burst, panning"
    for a, b in ((0, 1), (1, 2), (0, 2)):
        labelled.look_alikes.append((paths[a], paths[b], label))


def bracket_make(m: Master, labelled: Labelled) -> None:
    """Five exposures within one second, ExposureBiasValue -2..+2 EV."""
    im, paths = _decoded(m), {}
    when = f"2022:03:{1 + m.index % 28:02d} 09:30:15"
    for step, ev in enumerate((0, -1, 1, -2, 2)):
        exposure_time = (2 ** max(ev, 0), 250 * 2 ** max(-ev, 0))
        exif = camera_exif(
            serial=f"BRACKET{m.index:04d}",
            when=when,
            subsec=f"{step * 12:02d}",
            bias_tenths=ev * 10,
            exposure_time=exposure_time,
        )
        path = m.path.parent / f"bracket{ev:+d}.jpg"
        save(exposure(im, ev), path, "JPEG", exif, quality=90)
        paths[ev] = labelled.add(path, m.name)
    for ev in (-1, 1, -2, 2):
        labelled.look_alikes.append((paths[0], paths[ev], f"bracket {abs(ev)} EV apart"))


def _copy_in(source: str, folder: Path, labelled: Labelled, group: str) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{Path(source).parent.name}-{Path(source).name}"
    shutil.copyfile(source, target)
    return labelled.add(target, group)


def natural_make(*, natural: dict, masters: dict[str, str], root: Path, labelled: Labelled):
    """Pairs the packages ship themselves: look-alike designs and their own duplicates."""
    for label, key in (
        ("colour variants (MATE)", "colour variants"),
        ("light/dark variants (MATE)", "light/dark variants"),
    ):
        files = [_copy_in(f, root / "natural" / key, labelled, key) for f in natural[key]]
        labelled.look_alikes += [(a, b, label) for a, b in itertools.combinations(files, 2)]
    for stem, key, transform, expected in (
        ("Elephants", "elephants", "package: same wallpaper at 3 sizes", "derivative"),
        ("teriyaki", "greyscale", "package: greyscale edition", "derivative"),
        ("craigbradney", "copy", "package: same file in two templates", "exact"),
    ):
        name = next((n for n in masters if n.endswith(f"-{stem}")), None)
        if name is None or not natural[key]:
            continue
        original = _copy_in(masters[name], root / "natural" / stem, labelled, name)
        files = [_copy_in(f, root / "natural" / stem, labelled, name) for f in natural[key]]
        for a, b in itertools.combinations([original, *files], 2):
            labelled.duplicates.append((a, b, transform, expected))
    left = next((n for n in masters if n.endswith("-motorcycle_left")), None)
    if left is not None:
        right = masters[left].replace("motorcycle_left", "motorcycle_right")
        a = _copy_in(masters[left], root / "natural" / "stereo", labelled, left)
        b = _copy_in(right, root / "natural" / "stereo", labelled, left)
        labelled.look_alikes.append((a, b, "stereo pair (scikit-image)"))


def source_build(job: tuple[int, str, Path, int]) -> tuple[Labelled, str | None]:
    """All files made from one source photo (run in a worker process)."""
    index, source, root, edge = job
    labelled, rng = Labelled(), random.Random(SEED + index)
    m = master_make(source=source, index=index, root=root, edge=edge, notes=labelled.notes)
    if m is not None:
        duplicates_make(m, labelled, rng)
        rescans_make(m, labelled, rng)
        burst_make(m, labelled, rng)
        bracket_make(m, labelled)
        fixed_camera_make(m, labelled, rng)
    return labelled, m.name if m is not None else None


def labelled_build(*, root: Path, edge: int, install: bool, limit: int, workers: int) -> Labelled:
    labelled = Labelled()
    sources, natural = choose_sources(install=install, notes=labelled.notes)
    sources = sources[:limit] if limit else sources
    jobs = [(index, source, root, edge) for index, source in enumerate(sources)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        built = pool.map(source_build, jobs, chunksize=1)
    masters = {}
    for (part, name), (_, source, _, _) in zip(built, jobs, strict=True):
        labelled.groups.update(part.groups)
        labelled.duplicates += part.duplicates
        labelled.look_alikes += part.look_alikes
        labelled.notes += part.notes
        if name is not None:
            masters[name] = source
    natural_make(natural=natural, masters=masters, root=root, labelled=labelled)
    labelled.notes.append(f"{len(masters)} masters from {len(sources)} source photos")
    return labelled


# Running both pipelines ---------------------------------------------------------------


def _to_int(image_hash) -> int:
    bits = np.asarray(image_hash.hash, dtype=bool).ravel()
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def examine(path: str) -> dict:
    """Keepsake's fingerprint and facts, and plain imagehash pHash, of one file."""
    with open(path, "rb") as fp:
        side = file_side(fp=fp)
        fp.seek(0)
        fingerprint = fingerprint_image(fp=fp)
    with Image.open(path) as im:
        plain = _to_int(imagehash.phash(im))
    return {"path": path, "side": side, "fp": fingerprint, "plain": plain}


def _within(codes: np.ndarray, k: int) -> set[tuple[int, int]]:
    found = set()
    for i in range(len(codes) - 1):
        distances = np.bitwise_count(codes[i + 1 :] ^ codes[i])
        found.update((i, i + 1 + int(j)) for j in np.nonzero(distances <= k)[0])
    return found


def candidates(files: list[dict], near: int, verify: int) -> tuple[set, set, set, float]:
    """Pairs (i, j) found: Keepsake's rule within `near` and in full, plain pHash ≤ 10.

    The full rule is the app's own in-memory join (dedup.report.near_pairs): main pHashes
    within `verify`, or a main pHash within VARIANT_DISTANCE of a variant of the other.
    Also returns the seconds that join took.
    """
    plain = _within(np.array([f["plain"] for f in files], dtype=np.uint64), PLAIN_DISTANCE)
    searchable = [i for i, f in enumerate(files) if not f["fp"].low_information]
    owners = [(i, code) for i in searchable for _name, code in files[i]["fp"].variants]
    started = time.perf_counter()
    found = near_pairs(
        ids=np.array(searchable, dtype=np.int64),
        phash=np.array([files[i]["fp"].phash for i in searchable], dtype=np.uint64),
        dhash=np.array([files[i]["fp"].dhash for i in searchable], dtype=np.uint64),
        k=verify,
        variant_ids=np.array([i for i, _ in owners], dtype=np.int64),
        variants=np.array([code for _, code in owners], dtype=np.uint64),
        variant_k=VARIANT_DISTANCE,
    )
    seconds = time.perf_counter() - started
    wide = {(a, b) for a, b, *_ in found}
    by_sha = defaultdict(list)
    for i, f in enumerate(files):
        by_sha[f["side"].sha256].append(i)
    exact = {pair for same in by_sha.values() for pair in itertools.combinations(same, 2)}
    within_near = {(i, j) for i, j in wide if _distance(files, i, j) <= near}
    return exact | within_near, exact | wide, plain, seconds


def _distance(files: list[dict], i: int, j: int) -> int:
    return (files[i]["fp"].phash ^ files[j]["fp"].phash).bit_count()


def judge(job: tuple[dict, dict]) -> tuple[str, str, str, str, float]:
    a, b = job
    started = time.perf_counter()
    with open(a["path"], "rb") as fp_a, open(b["path"], "rb") as fp_b:
        verdict = files_judge(
            side_a=a["side"],
            side_b=b["side"],
            fp_a=fp_a,
            fp_b=fp_b,
            phash_distance=(a["fp"].phash ^ b["fp"].phash).bit_count(),
            dhash_distance=(a["fp"].dhash ^ b["fp"].dhash).bit_count(),
        )
    elapsed = time.perf_counter() - started
    return a["path"], b["path"], verdict.kind, verdict.evidence["reason"], elapsed


def run(labelled: Labelled, workers: int) -> dict:
    paths = sorted(labelled.groups)
    near, verify = settings.KEEPSAKE_NEAR_DISTANCE, VERIFY_DISTANCE
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        files = pool.map(examine, paths, chunksize=8)
        examined = time.perf_counter()
        index = {f["path"]: i for i, f in enumerate(files)}
        near_found, wide_pairs, plain, find_seconds = candidates(files, near, verify)
        jobs = _jobs(labelled, files, index, wide_pairs)
        verdicts = pool.map(judge, jobs, chunksize=4)
    judged = {_key(index, a, b): (kind, reason, t) for a, b, kind, reason, t in verdicts}
    # The second tier: beyond `near`, a pair counts only if the judgement keeps it.
    kept = {
        pair
        for pair in wide_pairs - near_found
        if pair in judged
        and candidate_keep(kind=judged[pair][0], phash_distance=_distance(files, *pair))
    }
    return {
        "files": files,
        "index": index,
        "keepsake": near_found | kept,
        "near_only": near_found,
        "wide": wide_pairs,
        "plain": plain,
        "judged": judged,
        "seconds": {
            "find": find_seconds,
            "examine": examined - started,
            "judge": time.perf_counter() - examined,
            "judge_per_pair": sorted(t for *_, t in verdicts),
        },
    }


def _key(index: dict, a: str, b: str) -> tuple[int, int]:
    i, j = index[a], index[b]
    return (i, j) if i < j else (j, i)


def _jobs(labelled: Labelled, files: list, index: dict, flagged: set) -> list[tuple[dict, dict]]:
    """The flagged pairs worth judging: labelled ones (in label order) and cross-group ones."""
    ordered = {
        _key(index, a, b): (index[a], index[b])
        for a, b, *_ in labelled.duplicates + labelled.look_alikes
    }
    jobs = []
    for i, j in sorted(flagged):
        if (i, j) in ordered:
            a, b = ordered[(i, j)]
        elif labelled.groups[files[i]["path"]] != labelled.groups[files[j]["path"]]:
            a, b = i, j
        else:
            continue  # two variants of one photo: related, but not a labelled pair
        jobs.append((files[a], files[b]))
    return jobs


# The table ----------------------------------------------------------------------------


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "n/a"


def _kinds(kinds: Counter) -> str:
    return " / ".join(str(kinds.get(kind, 0)) for kind in KINDS)


def _outcome(result: dict, a: str, b: str) -> tuple[bool, bool, str | None, str]:
    """(plain pHash flags it, Keepsake's k <= near flags it, Keepsake's kind, reason)."""
    key = _key(result["index"], a, b)
    kind, reason, _ = result["judged"].get(key, (None, "", 0.0))
    found = kind if key in result["keepsake"] else None
    return key in result["plain"], key in result["near_only"], found, reason


def duplicate_table(labelled: Labelled, result: dict, misses: list) -> tuple[list[str], dict]:
    rows = defaultdict(list)
    for a, b, transform, expected in labelled.duplicates:
        plain, near, kind, reason = _outcome(result, a, b)
        rows[transform].append((expected, plain, near, kind))
        if kind not in expected.split("/"):
            misses.append(f"duplicate {transform}: expected {expected}, got {kind}: {reason} ({b})")
    lines = [
        "| duplicate transform | pairs | plain pHash ≤ 10 recall | Keepsake k ≤ 10 recall "
        "| Keepsake recall | expected kind | Keepsake kinds e / p / d / s "
        "| kind right (of found) |",
        "| --- | ---: | ---: | ---: | ---: | --- | --- | ---: |",
    ]
    total = Counter()
    for transform, outcomes in rows.items():
        n = len(outcomes)
        plain, near = sum(o[1] for o in outcomes), sum(o[2] for o in outcomes)
        found = [o for o in outcomes if o[3] is not None]
        right = sum(o[3] in o[0].split("/") for o in found)
        total.update(pairs=n, plain=plain, near=near, found=len(found), right=right)
        if len(found) < 0.9 * n:
            total[f"below 90 %: {transform} ({_pct(len(found), n)})"] = 1
        lines.append(
            f"| {transform} | {n} | {_pct(plain, n)} | {_pct(near, n)} | {_pct(len(found), n)} "
            f"| {outcomes[0][0]} | {_kinds(Counter(o[3] for o in found))} "
            f"| {_pct(right, len(found))} |"
        )
    lines.append(
        f"| **all duplicates** | {total['pairs']} | {_pct(total['plain'], total['pairs'])} "
        f"| {_pct(total['near'], total['pairs'])} | {_pct(total['found'], total['pairs'])} | | "
        f"| {_pct(total['right'], total['found'])} |"
    )
    return lines, total


def look_alike_table(labelled: Labelled, result: dict, misses: list) -> tuple[list[str], Counter]:
    rows = defaultdict(list)
    for a, b, label in labelled.look_alikes:
        plain, _, kind, reason = _outcome(result, a, b)
        rows[label].append((plain, kind))
        if kind not in (None, "similar"):
            misses.append(f"look-alike {label}: got {kind}: {reason} ({a} ~ {b})")
    lines = [
        "| look-alike | pairs | plain pHash ≤ 10 flagged | Keepsake flagged "
        "| exact | pixel | derivative | similar |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    total = Counter()
    for label, outcomes in rows.items():
        kinds = Counter(o[1] for o in outcomes if o[1] is not None)
        flagged = sum(kinds.values())
        total.update(pairs=len(outcomes), plain=sum(o[0] for o in outcomes), flagged=flagged)
        total.update(kinds)
        lines.append(
            f"| {label} | {len(outcomes)} | {sum(o[0] for o in outcomes)} | {flagged} | "
            + " | ".join(str(kinds.get(k, 0)) for k in KINDS)
            + " |"
        )
    lines.append(
        f"| **all look-alikes** | {total['pairs']} | {total['plain']} | {total['flagged']} | "
        + " | ".join(str(total.get(k, 0)) for k in KINDS)
        + " |"
    )
    return lines, total


def unrelated_table(labelled: Labelled, result: dict, misses: list) -> tuple[list[str], dict]:
    files, groups = result["files"], labelled.groups
    sizes = Counter(groups[f["path"]] for f in files)
    pairs = len(files) * (len(files) - 1) // 2 - sum(n * (n - 1) // 2 for n in sizes.values())

    def cross(flagged) -> list[tuple[int, int]]:
        return [(i, j) for i, j in flagged if groups[files[i]["path"]] != groups[files[j]["path"]]]

    def rate(flagged: list) -> str:
        return f"{len(flagged)} ({10_000 * len(flagged) / pairs:.2f} per 10,000)"

    plain, near, keepsake = (cross(result[k]) for k in ("plain", "near_only", "keepsake"))
    kinds = Counter(result["judged"][pair][0] for pair in keepsake)
    for pair in keepsake:
        a, b = (files[i]["path"] for i in pair)
        misses.append(f"unrelated flagged: {result['judged'][pair][:2]} ({a} ~ {b})")
    lines = [
        "| unrelated pairs | plain pHash ≤ 10 flagged | Keepsake k ≤ 10 flagged "
        "| Keepsake flagged | Keepsake kinds e / p / d / s |",
        "| ---: | ---: | ---: | ---: | --- |",
        f"| {pairs:,} | {rate(plain)} | {rate(near)} | {rate(keepsake)} | {_kinds(kinds)} |",
    ]
    return lines, {"pairs": pairs, "flagged": len(keepsake), "plain": len(plain)}


def distance_table(labelled: Labelled, result: dict, ks=(10, 12, 14, 16)) -> list[str]:
    """Share of pairs within pHash distance k of each other, for several k."""
    files, index = result["files"], result["index"]

    def distance(a: str, b: str) -> int:
        return (files[index[a]]["fp"].phash ^ files[index[b]]["fp"].phash).bit_count()

    rows = defaultdict(list)
    for a, b, transform, _ in labelled.duplicates:
        rows[transform].append(distance(a, b))
    for a, b, label in labelled.look_alikes:
        rows[f"look-alike: {label}"].append(distance(a, b))
    groups = labelled.groups
    rows["unrelated (pairs, not shares)"] = [
        _distance(files, i, j)
        for i, j in result["wide"]
        if groups[files[i]["path"]] != groups[files[j]["path"]]
    ]
    header = " | ".join(f"≤ {k}" for k in ks)
    lines = [f"| pHash distance within | {header} |", "|---" + " | ---:" * len(ks) + " |"]
    for label, distances in rows.items():
        if label.startswith("unrelated"):
            shares = " | ".join(str(sum(d <= k for d in distances)) for k in ks)
            lines.append(f"| {label} | {shares} |")
            continue
        shares = " | ".join(_pct(sum(d <= k for d in distances), len(distances)) for k in ks)
        lines.append(f"| {label} | {shares} |")
    return lines


def goals_table(dup: Counter, look: Counter, unrelated: dict) -> list[str]:
    recall = dup["found"] / dup["pairs"] if dup["pairs"] else 0.0
    right = dup["right"] / dup["found"] if dup["found"] else 0.0
    looks = look["pairs"] or 1
    rate = unrelated["flagged"] / unrelated["pairs"] if unrelated["pairs"] else 0.0
    goals = [
        ("duplicate recall", "≥ 97 %", f"{100 * recall:.1f} %", recall >= 0.97),
        ("recall in every transform", "≥ 90 %",
         "; ".join(k[12:] for k in dup if str(k).startswith("below 90 %")) or "all ≥ 90 %",
         not any(str(k).startswith("below 90 %") for k in dup)),
        ("look-alikes labelled exact or pixel", "0", str(look["exact"] + look["pixel"]),
         look["exact"] + look["pixel"] == 0),
        ("look-alikes labelled derivative", "≤ 2 %", _pct(look["derivative"], looks),
         look["derivative"] <= 0.02 * looks),
        ("unrelated pairs flagged", "≤ 1 per 10,000", f"{10_000 * rate:.2f} per 10,000",
         rate <= 1e-4),
        ("kind right among found duplicates", "≥ 95 %", f"{100 * right:.1f} %", right >= 0.95),
    ]  # fmt: skip
    lines = ["| goal | target | measured | met |", "| --- | --- | --- | --- |"]
    lines += [f"| {g} | {t} | {m} | {'yes' if ok else 'no'} |" for g, t, m, ok in goals]
    return lines


def report_cost(result: dict, unrelated: dict, labelled: Labelled, n: int = 10_000) -> str:
    """What the report costs for n assets: the join, measured; the judging, estimated.

    The join runs on n fingerprints made from this run's real ones (copies with 20 bits
    flipped stand in for further unrelated photos). Judged pairs are the candidate pairs
    the rule sends to the pixel judgement: unrelated ones at this run's rate per unrelated
    pair, labelled ones at this run's rate per asset.
    """
    rng = np.random.default_rng(SEED)
    files = [f for f in result["files"] if not f["fp"].low_information]
    picks = rng.integers(0, len(files), n)
    flips = [rng.choice(64, 20, replace=False) for _ in range(n)]
    masks = np.array([sum(1 << int(b) for b in bits) for bits in flips], dtype=np.uint64)
    masks[: len(files)] = 0
    phash = np.array([files[i]["fp"].phash for i in picks], dtype=np.uint64) ^ masks
    owners, codes = [], []
    for row, i in enumerate(picks):
        for _name, code in files[i]["fp"].variants:
            owners.append(row)
            codes.append(code ^ int(masks[row]))
    started = time.perf_counter()
    near_pairs(
        ids=np.arange(n, dtype=np.int64),
        phash=phash,
        dhash=phash,
        k=VERIFY_DISTANCE,
        variant_ids=np.array(owners, dtype=np.int64),
        variants=np.array(codes, dtype=np.uint64),
        variant_k=VARIANT_DISTANCE,
    )
    join = time.perf_counter() - started
    groups, all_files = labelled.groups, result["files"]
    cross = sum(
        1 for i, j in result["wide"] if groups[all_files[i]["path"]] != groups[all_files[j]["path"]]
    )
    related = len(result["judged"]) - cross
    judged = cross / unrelated["pairs"] * n * (n - 1) / 2 + related / len(all_files) * n
    per_pair = result["seconds"]["judge_per_pair"]
    median = per_pair[len(per_pair) // 2] if per_pair else 0.0
    return (
        f"Report cost per {n:,} assets: the candidate join {join:.1f} s (measured); about "
        f"{judged:,.0f} pairs to judge from their pixels ({cross} unrelated candidate pairs "
        f"of {unrelated['pairs']:,} here), {judged * median / 60:.1f} min at the median "
        f"{1000 * median:.0f} ms a pair on one core."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edge", type=int, default=1024, help="longest edge of the masters")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-install", action="store_true", help="use only what is installed")
    parser.add_argument("--keep", help="build the files here and keep them")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N photos")
    parser.add_argument("--distances", action="store_true", help="pHash distance shares too")
    parser.add_argument("--verbose", action="store_true", help="list every wrong outcome")
    args = parser.parse_args()
    root = Path(args.keep or tempfile.mkdtemp(prefix="keepsake-accuracy-"))
    try:
        started = time.perf_counter()
        labelled = labelled_build(
            root=root,
            edge=args.edge,
            install=not args.no_install,
            limit=args.limit,
            workers=args.workers,
        )
        built = time.perf_counter() - started
        result = run(labelled, args.workers)
        report(labelled, result, built=built, args=args)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


def report(labelled: Labelled, result: dict, *, built: float, args) -> None:
    misses: list[str] = []
    dup_lines, dup = duplicate_table(labelled, result, misses)
    look_lines, look = look_alike_table(labelled, result, misses)
    unrelated_lines, unrelated = unrelated_table(labelled, result, misses)
    per_pair = result["seconds"]["judge_per_pair"]
    median = per_pair[len(per_pair) // 2] * 1000 if per_pair else 0.0
    near = settings.KEEPSAKE_NEAR_DISTANCE
    print(
        f"Keepsake k ≤ {near}: same SHA-256, or pHash distance ≤ {near} between searchable "
        f"fingerprints. Keepsake (the one candidate rule, at its defaults): also pairs at "
        f"{near} < distance ≤ {VERIFY_DISTANCE}, or with a pHash within {VARIANT_DISTANCE} of "
        "a variant of the other (turned, mirrored, windows), that the judgement proves to be "
        "one picture (exact, pixel or derivative). Kinds are Keepsake's.\n"
    )
    for lines in (dup_lines, look_lines, unrelated_lines, goals_table(dup, look, unrelated)):
        print("\n".join(lines) + "\n")
    print(
        f"{len(result['files'])} files; building {built:.0f} s, fingerprinting and plain "
        f"hashing {result['seconds']['examine']:.0f} s, the candidate join "
        f"{result['seconds']['find']:.1f} s, judging {len(per_pair)} flagged pairs "
        f"{result['seconds']['judge']:.0f} s (median {median:.0f} ms per pair, "
        f"{args.workers} workers)."
    )
    print(report_cost(result, unrelated, labelled))
    for note in labelled.notes:
        print(f"- {note}")
    if args.distances:
        print("\n" + "\n".join(distance_table(labelled, result)))
    if args.verbose:
        for miss in misses:
            print(miss, file=sys.stderr)


if __name__ == "__main__":
    main()
