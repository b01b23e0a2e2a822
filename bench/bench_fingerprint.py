"""Benchmark dedup.imaging.fingerprint_image against plain imagehash on ~12 MP JPEGs.

Sources are the photos bundled in the scikit-image wheel (no downloads), upscaled with light
crops, exposure changes and sensor-like grain so every file differs and compresses like a
camera JPEG. Files live in a temporary directory and are read from the page cache.

Run: python bench/bench_fingerprint.py [--count 48] [--reps 3] [--targets 128,256,512]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image
from skimage import data as skdata

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dedup import imaging  # noqa: E402

SOURCES: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": skdata.astronaut,
    "chelsea": skdata.chelsea,
    "coffee": skdata.coffee,
    "rocket": skdata.rocket,
    "motorcycle_left": lambda: skdata.stereo_motorcycle()[0],
    "motorcycle_right": lambda: skdata.stereo_motorcycle()[1],
    "hubble_deep_field": skdata.hubble_deep_field,
    "retina": skdata.retina,
    "immunohistochemistry": skdata.immunohistochemistry,
    "camera": skdata.camera,
    "moon": skdata.moon,
    "coins": skdata.coins,
    "grass": skdata.grass,
    "gravel": skdata.gravel,
    "brick": skdata.brick,
    "cell": skdata.cell,
}


def parse_args() -> argparse.Namespace:
    """Parse command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=48, help="number of JPEG files")
    parser.add_argument("--reps", type=int, default=5, help="repetitions; medians reported")
    parser.add_argument("--width", type=int, default=4000)
    parser.add_argument("--height", type=int, default=3000)
    parser.add_argument("--quality", type=int, default=90)
    parser.add_argument("--grain", type=float, default=3.0, help="noise sigma in grey levels")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--targets", default="", help="extra draft targets to sweep, e.g. 128,512")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def make_files(*, directory: Path, args: argparse.Namespace) -> list[Path]:
    """Write count upscaled, varied JPEGs and return their paths."""
    rng = np.random.default_rng(args.seed)
    names = list(SOURCES)
    sources = {name: Image.fromarray(SOURCES[name]()).convert("RGB") for name in names}
    paths = []
    for i in range(args.count):
        name = names[i % len(names)]
        image = _vary(image=sources[name], rng=rng, size=(args.width, args.height), args=args)
        path = directory / f"{i:03d}_{name}.jpg"
        image.save(path, "JPEG", quality=args.quality)
        paths.append(path)
    return paths


def _vary(
    *, image: Image.Image, rng: np.random.Generator, size: tuple[int, int], args
) -> Image.Image:
    """Crop slightly, rescale to size, shift exposure and add grain."""
    w, h = image.size
    crop = rng.uniform(0.0, 0.06, size=4)
    box = (w * crop[0], h * crop[1], w * (1 - crop[2]), h * (1 - crop[3]))
    big = image.resize(size, Image.Resampling.BICUBIC, box=box)
    pixels = np.asarray(big, dtype=np.float32) * rng.uniform(0.9, 1.1)
    pixels += rng.normal(0.0, args.grain, size=pixels.shape).astype(np.float32)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="RGB")


def plain_phash(path: Path) -> int:
    """Reference: imagehash on a full decode."""
    with Image.open(path) as image:
        return imaging.hash_to_int(image_hash=imagehash.phash(image))


def fast_fingerprint(path: Path, target: int = imaging.DECODE_TARGET) -> imaging.ImageFingerprint:
    """The production path: one reduced-scale decode, both hashes."""
    with open(path, "rb") as fp:
        return imaging.fingerprint_image(fp=fp, target=target)


def draft_decode(path: Path) -> None:
    """Lower bound: decode at 1/8 scale in RGB and nothing else."""
    with Image.open(path) as image:
        image.draft("RGB", (image.width // 8, image.height // 8))
        image.load()


def draft_decode_gray(path: Path) -> None:
    """Decode at 1/8 scale straight to luma, as fingerprint_image does."""
    with Image.open(path) as image:
        image.draft("L", (image.width // 8, image.height // 8))
        image.load()


def busy_loop(_: int) -> int:
    """Pure-Python CPU work, to measure how well this machine scales across processes."""
    total = 0
    for i in range(2_000_000):
        total += i
    return total


def cpu_scaling(*, workers: int) -> float:
    """Speed-up of workers processes over one on a task with no I/O or shared memory."""
    rates = []
    for count in (1, workers):
        with multiprocessing.get_context("fork").Pool(count) as pool:
            pool.map(busy_loop, range(count))
            start = time.perf_counter()
            pool.map(busy_loop, range(4 * workers), chunksize=1)
            rates.append(4 * workers / (time.perf_counter() - start))
    return rates[1] / rates[0]


def images_per_second(*, fn: Callable[[Path], object], paths: list[Path]) -> float:
    """Run fn over all paths once and return throughput."""
    start = time.perf_counter()
    for path in paths:
        fn(path)
    return len(paths) / (time.perf_counter() - start)


def pool_rate(*, workers: int, paths: list[Path]) -> float:
    """Throughput of fast_fingerprint over a warmed-up process pool."""
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pool.map(fast_fingerprint, paths[:workers])  # warm imports outside the timing
        start = time.perf_counter()
        for _ in pool.imap_unordered(fast_fingerprint, paths, chunksize=1):
            pass
        return len(paths) / (time.perf_counter() - start)


def drift(*, paths: list[Path], target: int) -> list[int]:
    """Bits by which the fast pHash differs from imagehash on the full decode, per file."""
    return [(plain_phash(p) ^ fast_fingerprint(p, target).phash).bit_count() for p in paths]


def measure(*, paths: list[Path], args: argparse.Namespace) -> dict[str, float]:
    """Median throughput of every method, interleaved per repetition against machine noise."""
    methods: dict[str, Callable[[], float]] = {
        "a": lambda: images_per_second(fn=plain_phash, paths=paths),
        "b": lambda: images_per_second(fn=fast_fingerprint, paths=paths),
        "c": lambda: images_per_second(fn=draft_decode, paths=paths),
        "cl": lambda: images_per_second(fn=draft_decode_gray, paths=paths),
        "w1": lambda: pool_rate(workers=1, paths=paths),
        "wn": lambda: pool_rate(workers=args.workers, paths=paths),
        "cpu": lambda: cpu_scaling(workers=args.workers),
    }
    rates: dict[str, list[float]] = {key: [] for key in methods}
    for _ in range(args.reps):
        for key, method in methods.items():
            rates[key].append(method())
    return {key: statistics.median(values) for key, values in rates.items()}


def main() -> None:
    """Generate files, measure, print a markdown table."""
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="keepsake-bench-") as tmp:
        paths = make_files(directory=Path(tmp), args=args)
        mean_mb = statistics.mean(p.stat().st_size for p in paths) / 1e6
        for path in paths:
            path.read_bytes()  # page cache warm-up so every method sees the same I/O
        med = measure(paths=paths, args=args)
        bits = drift(paths=paths, target=imaging.DECODE_TARGET)
        print(
            f"\n{len(paths)} JPEGs {args.width}x{args.height} q{args.quality} "
            f"grain sigma {args.grain}, mean {mean_mb:.2f} MB, medians of {args.reps} reps, "
            f"draft target {imaging.DECODE_TARGET}\n"
        )
        print_table(med=med, bits=bits, workers=args.workers)
        sweep = [int(t) for t in args.targets.split(",") if t.strip()]
        if sweep:
            print_sweep(paths=paths, targets=sweep, reps=args.reps)


def print_table(*, med: dict[str, float], bits: list[int], workers: int) -> None:
    """Print the headline results with their goals."""
    mean_bits = statistics.mean(bits)
    rows = [
        ("(a) imagehash.phash(Image.open(path))", f"{med['a']:.1f} img/s", "", ""),
        ("(b) fingerprint_image (pHash + dHash)", f"{med['b']:.1f} img/s", "", ""),
        ("(c) draft('RGB', 1/8) + load only", f"{med['c']:.1f} img/s", "", ""),
        ("(c') draft('L', 1/8) + load only", f"{med['cl']:.1f} img/s", "", ""),
        ("(c) / (a): ceiling for (b) / (a)", f"{med['c'] / med['a']:.2f}x", "", ""),
        ("(b) / (a) speed-up", f"{med['b'] / med['a']:.2f}x", ">= 6x", med["b"] / med["a"] >= 6),
        ("(b) / (c)", f"{100 * med['b'] / med['c']:.0f} %", ">= 85 %", med["b"] / med["c"] >= 0.85),
        ("pHash drift (b) vs (a), mean", f"{mean_bits:.3f} bits", "<= 0.5", mean_bits <= 0.5),
        ("pHash drift (b) vs (a), max", f"{max(bits)} bits", "", ""),
        ("(b) with 1 worker process", f"{med['w1']:.1f} img/s", "", ""),
        (f"(b) with {workers} worker processes", f"{med['wn']:.1f} img/s", "", ""),
        (
            f"{workers} workers / 1 worker",
            f"{med['wn'] / med['w1']:.2f}x",
            ">= 1.8x",
            med["wn"] / med["w1"] >= 1.8,
        ),
        (f"machine baseline: pure-Python loop, {workers} procs / 1", f"{med['cpu']:.2f}x", "", ""),
    ]
    print("| measurement | result | goal | met |")
    print("|---|---|---|---|")
    for label, value, goal, met in rows:
        verdict = "" if goal == "" else ("yes" if met else "NO")
        print(f"| {label} | {value} | {goal} | {verdict} |")


def print_sweep(*, paths: list[Path], targets: list[int], reps: int) -> None:
    """Print speed and drift for alternative draft targets."""
    print("\n| draft target | img/s (median) | mean drift bits | max drift bits |")
    print("|---|---|---|---|")
    for target in targets:
        rate = statistics.median(
            images_per_second(fn=lambda p, t=target: fast_fingerprint(p, t), paths=paths)
            for _ in range(reps)
        )
        bits = drift(paths=paths, target=target)
        print(f"| {target} | {rate:.1f} | {statistics.mean(bits):.3f} | {max(bits)} |")


if __name__ == "__main__":
    main()
