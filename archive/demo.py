"""Demo photos: real images shipped in scikit-image's wheel, plus generated copies.

The copies are what archives are full of: an exact re-upload under another name, the same
survey copied into a second department's tree, a recompressed and a resized derivative,
a lossless conversion, and a look-alike (the other half of a stereo pair) that must never
be merged.
"""

import shutil
from importlib import resources
from pathlib import Path

from PIL import Image

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


def _photo(name: str) -> Image.Image:
    try:
        source = resources.files("skimage.data") / name
    except ModuleNotFoundError as exc:
        raise ArchiveError(
            "The demo photos come from scikit-image: pip install -r requirements-dev.txt"
        ) from exc
    with resources.as_file(source) as path, Image.open(path) as image:
        return image.convert("RGB")


def demo_images_write(*, folder: Path) -> dict[str, Path]:
    """Write the demo set under folder; return the trees to ingest by collection name."""
    if folder.exists():
        shutil.rmtree(folder)
    originals, field, permits = folder / "photo-desk", folder / "field-photos", folder / "permits"
    for tree in (originals, field / "uploads", permits):
        tree.mkdir(parents=True)
    for name in PHOTOS:
        _photo(name).save(originals / (Path(name).stem + ".jpg"), "JPEG", quality=92)
    # An exact re-upload after a dropped connection, under the camera's own name.
    shutil.copy(originals / "astronaut.jpg", field / "uploads" / "IMG_0001 (1).jpg")
    # Derivatives: recompressed, halved, converted without loss.
    with Image.open(originals / "chelsea.jpg") as image:
        image.save(field / "chelsea-web.jpg", "JPEG", quality=55)
    with Image.open(originals / "coffee.jpg") as image:
        image.resize((image.width // 2, image.height // 2), Image.LANCZOS).save(
            field / "coffee-small.jpg", "JPEG", quality=90
        )
    with Image.open(originals / "rocket.jpg") as image:
        image.save(field / "rocket.png", "PNG")
    # A look-alike: the right-eye view of the stereo pair; a different photograph.
    _photo("motorcycle_right.png").save(field / "motorcycle-right.jpg", "JPEG", quality=92)
    # The same survey ingested by a second department: a copied file tree.
    for name in ("coffee.jpg", "moon.jpg"):
        shutil.copy(originals / name, permits / f"permit-2024-{name}")
    return {
        "Photo desk": originals,
        "CARE+ field photos": field,
        "Building & Safety permits": permits,
    }
