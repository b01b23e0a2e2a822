"""Demo photos: real images shipped in scikit-image's wheel, plus generated copies.

The copies are what archives are full of, so every kind of pair and every screen has
something to show: an exact re-upload under a camera name (the same bytes in three
places: one asset, three sources), the same survey copied into a second department's
tree, a pixel group (a JPEG, its PNG and its lossless WebP: the same decoded pixels),
derivatives (recompressed, halved, a rotated copy stored a quarter turn off with the
EXIF orientation that turns it back), and look-alikes that must never be merged: the
other half of a stereo pair, a burst (three frames a fraction of a second apart from
one camera body) and a bracket (three exposures −1, 0, +1 EV within a second).
A tablet's upload waits under `tablet/` for the README's API session.
"""

import shutil
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

from PIL import ExifTags, Image, ImageEnhance
from PIL.TiffImagePlugin import IFDRational

from archive.errors import ArchiveError

PHOTOS = [
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "retina.jpg",
    "hubble_deep_field.jpg",
    "camera.png",
    "moon.png",
]
# The upload of the README's API session: a halved copy of this demo photo.
TABLET_UPLOAD = "tablet/IMG_0101.jpg"
TABLET_SOURCE = "hubble_deep_field.jpg"


def _photo(name: str) -> Image.Image:
    try:
        source = resources.files("skimage.data") / name
    except ModuleNotFoundError as exc:
        raise ArchiveError(
            "The demo photos come from scikit-image: pip install -r requirements-dev.txt"
        ) from exc
    with resources.as_file(source) as path, Image.open(path) as image:
        return image.convert("RGB")


def camera_exif(*, serial: str, moment: datetime, bias_tenths: int = 0) -> Image.Exif:
    """EXIF as a camera body writes it: make, model, serial, capture time to the ms, bias."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Keepsake"
    exif[ExifTags.Base.Model] = "Demo Camera"
    ifd = exif.get_ifd(ExifTags.IFD.Exif)
    ifd[ExifTags.Base.DateTimeOriginal] = moment.strftime("%Y:%m:%d %H:%M:%S")
    ifd[ExifTags.Base.SubsecTimeOriginal] = f"{moment.microsecond // 1000:03d}"
    ifd[ExifTags.Base.OffsetTimeOriginal] = "+01:00"
    ifd[ExifTags.Base.BodySerialNumber] = serial
    ifd[ExifTags.Base.ExposureBiasValue] = IFDRational(bias_tenths, 10)
    return exif


def _burst(image: Image.Image, folder: Path) -> None:
    """Three frames of a pan, 0.3 s apart, from one body: look-alikes, not copies."""
    moment = datetime(2024, 5, 14, 10, 21, 7, 120_000, tzinfo=UTC)
    kept = 0.85
    for frame in range(3):
        left, top = 0.02 + 0.03 * frame, 0.04 + 0.015 * frame
        box = (left * image.width, top * image.height)
        box += ((left + kept) * image.width, (top + kept) * image.height)
        exif = camera_exif(serial="DEMO-0042", moment=moment + timedelta(milliseconds=300 * frame))
        image.crop(tuple(round(v) for v in box)).save(
            folder / f"burst-{frame + 1}.jpg", "JPEG", quality=90, exif=exif
        )


def _bracket(image: Image.Image, folder: Path) -> None:
    """Three exposures within a second, ExposureBiasValue −1, 0, +1 EV: a bracket."""
    moment = datetime(2024, 5, 14, 11, 2, 40, tzinfo=UTC)
    for step, ev in enumerate((0, -1, 1)):
        exposed = ImageEnhance.Brightness(image).enhance(2.0 ** (ev * 0.8))
        exif = camera_exif(
            serial="DEMO-0042",
            moment=moment + timedelta(milliseconds=150 * step),
            bias_tenths=ev * 10,
        )
        exposed.save(folder / f"bracket{ev:+d}EV.jpg", "JPEG", quality=90, exif=exif)


def _rotated(image: Image.Image, path: Path) -> None:
    """Pixels stored a quarter turn off with the EXIF orientation (6) that turns them back."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    image.transpose(Image.Transpose.ROTATE_90).save(path, "JPEG", quality=88, exif=exif)


def demo_images_write(*, folder: Path) -> dict[str, Path]:
    """Write the demo set under folder; return the trees to ingest by collection name."""
    if folder.exists():
        shutil.rmtree(folder)
    originals, field, permits = folder / "photo-desk", folder / "field-photos", folder / "permits"
    camera, tablet = folder / "camera-card", folder / "tablet"
    for tree in (originals, field / "uploads", permits, camera, tablet):
        tree.mkdir(parents=True)
    for name in PHOTOS:
        _photo(name).save(originals / (Path(name).stem + ".jpg"), "JPEG", quality=92)
    # An exact re-upload after a dropped connection, under the camera's own name.
    shutil.copy(originals / "astronaut.jpg", field / "uploads" / "IMG_0001 (1).jpg")
    # Derivatives: recompressed, halved, rotated with its orientation tag.
    with Image.open(originals / "chelsea.jpg") as image:
        image.save(field / "chelsea-web.jpg", "JPEG", quality=55)
    with Image.open(originals / "coffee.jpg") as image:
        image.resize((image.width // 2, image.height // 2), Image.LANCZOS).save(
            field / "coffee-small.jpg", "JPEG", quality=90
        )
    with Image.open(originals / "camera.jpg") as image:
        _rotated(image.convert("RGB"), field / "camera-rotated.jpg")
    # A pixel group: the same decoded pixels as a JPEG, a PNG and a lossless WebP.
    with Image.open(originals / "rocket.jpg") as image:
        image.save(field / "rocket.png", "PNG")
        image.save(field / "rocket.webp", "WEBP", lossless=True)
    # A look-alike: the right-eye view of the stereo pair; a different photograph.
    _photo("motorcycle_right.png").save(field / "motorcycle-right.jpg", "JPEG", quality=92)
    # A burst and a bracket from one camera card: look-alikes the judge keeps apart.
    _burst(_photo("coins.png"), camera)
    _bracket(_photo("ihc.png"), camera)
    # The same survey ingested by a second department: a copied file tree.
    for name in ("coffee.jpg", "moon.jpg", "astronaut.jpg"):
        shutil.copy(originals / name, permits / f"permit-2024-{name}")
    # Not ingested: the tablet's upload in the README's API session, a halved copy.
    with Image.open(originals / Path(TABLET_SOURCE).with_suffix(".jpg").name) as image:
        image.resize((image.width // 2, image.height // 2), Image.LANCZOS).save(
            folder / TABLET_UPLOAD, "JPEG", quality=85
        )
    return {
        "Photo desk": originals,
        "CARE+ field photos": field,
        "Building & Safety permits": permits,
        "Camera card 42": camera,
    }
