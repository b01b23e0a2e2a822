"""Peak resident memory of one upload, per image, each in a fresh process.

Every case uploads one file through the REST API (Django's test client, the real view,
probe, fingerprint and near-duplicate lookup, SQLite and local storage in a temporary
folder) in a new Python process, which then reports its peak RSS (`ru_maxrss`). The
baseline uploads a 48×32 PNG: the process at rest. Goal: every accepted image ≤ 300 MiB.

Files are made without ever holding their pixels: PNGs are written row by row; the JPEG
and TIFF in a helper process of their own.

Run: python bench/bench_probe_memory.py [--only png-144] [--root DIR (code to measure)]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LARGEST = 13376  # 13376² = 178,917,376 px, just under KEEPSAKE_MAX_IMAGE_PIXELS
AT_BUDGET = 5120  # 5120² RGB = 100 MiB decoded: the largest frame decoded whole

CHILD = r"""
import json, os, resource, sys, time
sys.path.insert(0, sys.argv[1])
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
import django
django.setup()
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient
user = get_user_model().objects.create_superuser(f"bench{time.time_ns()}", password="x")
client = APIClient()
client.force_authenticate(user)
at_rest = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
with open(sys.argv[2], "rb") as fp:
    response = client.post(
        "/api/v1/assets/", {"file": fp, "collection": "Bench"}, format="multipart", secure=True
    )
seconds = time.perf_counter() - started
body = response.json() if response["Content-Type"].startswith("application/json") else {
    "error": {"message": response.content[:200].decode(errors="replace")}
}
print(json.dumps({
    "status": response.status_code,
    "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "rest_kib": at_rest,
    "seconds": seconds,
    "reason": body.get("error", {}).get("message", ""),
    "fingerprint_error": ((body.get("asset") or {}).get("fingerprint") or {}).get("error", ""),
}))
"""

MAKE_WITH_PILLOW = r"""
import sys
from PIL import Image, ImageDraw
fmt, side, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
Image.MAX_IMAGE_PIXELS = None
image = Image.linear_gradient("L").resize((side, side)).convert("RGB")
draw = ImageDraw.Draw(image)
for i in range(12):
    draw.ellipse([i * side // 14, i * side // 20, i * side // 14 + side // 5,
                  i * side // 20 + side // 6], fill=(20 * i, 255 - 20 * i, 90))
params = {"quality": 85} if fmt == "JPEG" else {"compression": "tiff_deflate"}
image.save(path, fmt, **params)
"""


def _rows(width: int, channels: int):
    def row(y: int) -> bytes:
        shade = (y // 1500) * 30 % 256
        pixel = bytes([shade, 255 - shade, (shade * 7) % 256, 255][:channels])
        return pixel * width

    return row


def make_png(path: Path, side: int, *, colour: int = 2) -> None:
    from tests.fuzz.malformed import png_streamed

    channels = {2: 3, 6: 4, 0: 1}[colour]
    with open(path, "wb") as fp:
        png_streamed(fp, side, side, colour=colour, rows=_rows(side, channels))


def make_with_pillow(path: Path, fmt: str, side: int) -> None:
    subprocess.run(  # noqa: S603 - this interpreter, fixed code
        [sys.executable, "-c", MAKE_WITH_PILLOW, fmt, str(side), str(path)], check=True
    )


CASES = {
    "baseline": ("48×32 PNG (the process at rest)", None),
    "png-144": ("12000×12000 RGB PNG (the issue's 144 MP file)", lambda p: make_png(p, 12000)),
    "png-largest": (
        f"{LARGEST}×{LARGEST} RGB PNG (178.9 MP, largest accepted)",
        lambda p: make_png(p, LARGEST),
    ),
    "png-largest-rgba": (
        f"{LARGEST}×{LARGEST} RGBA PNG",
        lambda p: make_png(p, LARGEST, colour=6),
    ),
    "jpeg-largest": (
        f"{LARGEST}×{LARGEST} JPEG (largest accepted)",
        lambda p: make_with_pillow(p, "JPEG", LARGEST),
    ),
    "tiff-at-budget": (
        f"{AT_BUDGET}×{AT_BUDGET} RGB TIFF (largest decoded whole)",
        lambda p: make_with_pillow(p, "TIFF", AT_BUDGET),
    ),
    "tiff-over-budget": (
        "8000×8000 RGB TIFF (over the decode budget)",
        lambda p: make_with_pillow(p, "TIFF", 8000),
    ),
}
SUFFIX = {"jpeg": ".jpg", "tiff": ".tif"}


def _file_for(name: str, folder: Path) -> Path:
    path = folder / (name + SUFFIX.get(name.split("-")[0], ".png"))
    make = CASES[name][1]
    if make is None:
        from tests.fuzz.malformed import encode, picture

        path.write_bytes(encode(picture(), "PNG"))
    else:
        make(path)
    return path


def _environment(folder: Path, database: Path) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "KEEPSAKE_VAR_DIR": str(folder / "var"),
        "KEEPSAKE_MEDIA_ROOT": str(folder / "media"),
        "DJANGO_ALLOWED_HOSTS": "testserver",
        "KEEPSAKE_Q_SYNC": "1",
    }


def _migrated(folder: Path, root: Path) -> Path:
    database = folder / "template.sqlite3"
    subprocess.run(  # noqa: S603 - this interpreter, the project's manage.py
        [sys.executable, str(root / "manage.py"), "migrate", "--verbosity", "0"],
        env=_environment(folder, database),
        cwd=root,
        check=True,
    )
    return database


def measure(name: str, folder: Path, template: Path, root: Path) -> dict:
    path = _file_for(name, folder)
    database = folder / f"{name}.sqlite3"
    shutil.copy(template, database)
    done = subprocess.run(  # noqa: S603 - this interpreter, fixed code
        [sys.executable, "-c", CHILD, str(root), str(path)],
        env=_environment(folder, database),
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return {
            "status": f"crash ({done.returncode})",
            "peak_kib": 0,
            "rest_kib": 0,
            "seconds": 0,
            "reason": done.stderr.strip().splitlines()[-1:],
        }
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["file_bytes"] = path.stat().st_size
    path.unlink()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", choices=sorted(CASES))
    parser.add_argument("--root", type=Path, default=ROOT, help="source tree to measure")
    args = parser.parse_args()
    names = ["baseline"] + [
        n for n in CASES if n != "baseline" and (not args.only or n in args.only)
    ]
    with tempfile.TemporaryDirectory(prefix="keepsake-bench-memory-") as scratch:
        folder = Path(scratch)
        template = _migrated(folder, args.root)
        print(f"{'case':<48} {'file':>9} {'answer':>7} {'peak RSS':>9} {'upload':>8}")
        for name in names:
            result = measure(name, folder, template, args.root)
            size = result.get("file_bytes", 0)
            print(
                f"{CASES[name][0]:<48} {size / 1024:>7.0f}KB {result['status']!s:>7} "
                f"{result['peak_kib'] / 1024:>7.0f}MiB {result['seconds']:>7.1f}s"
                + (f"  ({result['reason']})" if result.get("reason") else "")
                + (
                    f"  [fingerprint: {result['fingerprint_error']}]"
                    if result.get("fingerprint_error")
                    else ""
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
