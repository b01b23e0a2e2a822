"""Hand-made malformed files, one function per kind, and valid seeds of every format.

`malformed_cases()` returns (name, bytes) pairs: empty and one-byte files, bare headers,
files truncated at each PNG chunk and JPEG segment, wrong magic, absurd declared sizes,
text-chunk bombs, broken APNG frames, GIF LZW, TIFF IFDs (out of range, looping), PPM
maxval, BMP heights and offsets, WebP chunk sizes, JPEG SOF/DQT/EXIF, ICO directories,
polyglots, SVG/HTML, and names that are not UTF-8. `seed_images()` returns a small valid
file of every format Pillow both reads and writes here (plus XPM, read-only). Both feed
the fuzz tests of ingest and upload; `png_streamed` writes huge PNGs in little memory.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib
from collections.abc import Callable, Iterator

from PIL import Image, ImageDraw

SEED_SIZE = (48, 32)


def picture(size=SEED_SIZE, mode="RGB") -> Image.Image:
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.rectangle([w // 6, h // 6, w // 2, h // 2], fill=(200, 40, 40))
    draw.ellipse([w // 2, h // 3, max(w // 2, w - 2), max(h // 3, h - 2)], fill=(20, 90, 200))
    return image.convert(mode) if mode != "RGB" else image


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


# ---------------------------------------------------------------- valid seeds

# Format -> the mode it is written in (formats Pillow both opens and saves here).
SEED_MODES = {
    "AVIF": "RGB",
    "BLP": "P",
    "BMP": "RGB",
    "DDS": "RGB",
    "DIB": "RGB",
    "GIF": "P",
    "ICNS": "RGB",
    "ICO": "RGB",
    "IM": "RGB",
    "JPEG": "RGB",
    "JPEG2000": "RGB",
    "MPO": "RGB",
    "MSP": "1",
    "PCX": "RGB",
    "PNG": "RGB",
    "PPM": "RGB",
    "QOI": "RGB",
    "SGI": "RGB",
    "SPIDER": "F",
    "TGA": "RGB",
    "TIFF": "RGB",
    "WEBP": "RGB",
    "XBM": "1",
}
EXTENSIONS = {"JPEG": "jpg", "JPEG2000": "jp2", "TIFF": "tif", "SPIDER": "spi", "MPO": "mpo"}

XPM = b"""/* XPM */
static char *x[] = {
"4 2 2 1",
"a c #FF0000",
"b c #0000FF",
"abab",
"baba"
};
"""


def seed_images() -> dict[str, bytes]:
    """A small valid file of every format Pillow reads and writes here (that it can write)."""
    seeds = {"XPM": XPM}
    for fmt, mode in SEED_MODES.items():
        try:
            seeds[fmt] = encode(picture(mode=mode), fmt)
        except (OSError, KeyError, ValueError):  # a codec this build lacks
            continue
    return seeds


def seed_name(fmt: str) -> str:
    return f"seed.{EXTENSIONS.get(fmt, fmt.lower())}"


# ---------------------------------------------------------------- helpers

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_chunks(data: bytes) -> list[tuple[int, bytes]]:
    """(offset, kind) of every chunk of a PNG."""
    found, at = [], 8
    while at + 8 <= len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        found.append((at, data[at + 4 : at + 8]))
        at += 12 + length
    return found


def jpeg_segments(data: bytes) -> list[int]:
    """Offsets of the markers of a JPEG up to the start of scan."""
    found, at = [], 2
    while at + 4 <= len(data) and data[at] == 0xFF:
        found.append(at)
        marker = data[at + 1]
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        if marker == 0xDA:
            break
        at += 2 + length
    return found


def _png() -> bytes:
    return encode(picture(), "PNG")


def _jpeg(**params) -> bytes:
    return encode(picture(), "JPEG", **params)


def _ihdr(width: int, height: int, depth=8, colour=2, interlace=0) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, interlace)
    return png_chunk(b"IHDR", header)


def _after_ihdr(extra: bytes) -> bytes:
    data = _png()
    return data[:33] + extra + data[33:]


def png_streamed(fp, width: int, height: int, *, colour=2, rows: Callable[[int], bytes]) -> None:
    """Write a PNG of any size row by row (rows(y) -> the unfiltered row), in little memory."""
    fp.write(PNG_SIGNATURE + _ihdr(width, height, colour=colour))
    squeeze, previous = zlib.compressobj(6), None
    for y in range(height):
        row = rows(y)
        if row == previous:
            # The Up filter turns a repeated row into zeros: huge and tiny on disk.
            chunk = squeeze.compress(b"\x02" + bytes(len(row)))
        else:
            chunk = squeeze.compress(b"\x00" + row)
        previous = row
        if chunk:
            fp.write(png_chunk(b"IDAT", chunk))
    fp.write(png_chunk(b"IDAT", squeeze.flush()) + png_chunk(b"IEND", b""))


# ---------------------------------------------------------------- the kinds


def zero_bytes():
    yield "zero-bytes.jpg", b""


def one_byte():
    yield "one-byte.png", b"\x89"
    yield "one-byte.jpg", b"\xff"


def header_only():
    yield "header-only.png", PNG_SIGNATURE
    yield "signature-and-ihdr.png", PNG_SIGNATURE + _ihdr(48, 32)
    yield "soi-only.jpg", b"\xff\xd8"
    yield "gif-header-only.gif", b"GIF89a"
    yield "tiff-header-only.tif", b"II*\x00"


def png_truncated_at_each_chunk():
    data = _png()
    for offset, kind in png_chunks(data):
        yield f"png-cut-before-{kind.decode()}-{offset}.png", data[:offset]
        yield f"png-cut-inside-{kind.decode()}-{offset}.png", data[: offset + 6]


def jpeg_truncated_at_each_segment():
    data = _jpeg(quality=85)
    for offset in jpeg_segments(data):
        yield f"jpeg-cut-at-{offset}.jpg", data[:offset]
    yield "jpeg-cut-mid-scan.jpg", data[: len(data) * 2 // 3]
    progressive = _jpeg(progressive=True)
    yield "jpeg-progressive-cut.jpg", progressive[: len(progressive) // 2]


def wrong_magic():
    png, jpeg = _png(), _jpeg()
    yield "png-body-jpeg-magic.png", b"\xff\xd8\xff\xe0" + png[4:]
    yield "jpeg-body-png-magic.jpg", PNG_SIGNATURE + jpeg[8:]
    yield "gif-magic-random.gif", b"GIF89a" + bytes(range(256)) * 4
    yield "bmp-magic-only.bmp", b"BM" + b"\x00" * 60


def huge_dimensions():
    body = png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + png_chunk(b"IEND", b"")
    yield "png-100000x100000.png", PNG_SIGNATURE + _ihdr(100000, 100000) + body
    yield "png-2^31-wide.png", PNG_SIGNATURE + _ihdr(2**31 - 1, 1) + body
    yield "png-zero-height.png", PNG_SIGNATURE + _ihdr(48, 0) + body
    jpeg = bytearray(_jpeg())
    at = jpeg.find(b"\xff\xc0")
    jpeg[at + 5 : at + 9] = struct.pack(">HH", 65535, 65535)
    yield "jpeg-65535x65535.jpg", bytes(jpeg)
    gif = bytearray(encode(picture(mode="P"), "GIF"))
    gif[6:10] = struct.pack("<HH", 65535, 65535)
    yield "gif-65535-screen.gif", bytes(gif)
    yield "ppm-huge.ppm", b"P6 100000 100000 255\n" + b"\x00" * 300


@functools.cache
def _inflating() -> bytes:
    return zlib.compress(b"A" * (64 << 20), 9)


def text_chunk_bombs():
    inflating = _inflating()
    yield "ztxt-bomb.png", _after_ihdr(png_chunk(b"zTXt", b"Comment\x00\x00" + inflating))
    itxt = b"Comment\x00\x01\x00en\x00Comment\x00" + inflating
    yield "itxt-bomb.png", _after_ihdr(png_chunk(b"iTXt", itxt))
    many = b"".join(png_chunk(b"tEXt", b"k%d\x00" % i + b"v" * 60000) for i in range(40))
    yield "text-flood.png", _after_ihdr(many)
    yield "iccp-bomb.png", _after_ihdr(png_chunk(b"iCCP", b"icc\x00\x00" + inflating))


def apng_bad_frames():
    png = _png()
    idat_at = png.find(b"IDAT") - 4
    actl = png_chunk(b"acTL", struct.pack(">II", 5, 0))
    fctl = png_chunk(b"fcTL", struct.pack(">IIIIIHHBB", 0, 48, 32, 0, 0, 1, 10, 0, 0))
    outside = png_chunk(b"fcTL", struct.pack(">IIIIIHHBB", 1, 5000, 5000, 40, 40, 1, 10, 0, 0))
    fdat = png_chunk(b"fdAT", struct.pack(">I", 2) + b"not zlib at all")
    head, tail = png[:idat_at], png[idat_at:]
    iend = tail.rfind(b"IEND") - 4
    yield "apng-frame-outside.png", head + actl + fctl + tail[:iend] + outside + fdat + tail[iend:]
    yield "apng-claims-frames.png", head + actl + tail
    zero = png_chunk(b"acTL", struct.pack(">II", 0, 0))
    yield "apng-zero-frames.png", head + zero + fctl + tail


def gif_bad_lzw():
    gif = bytearray(encode(picture(mode="P"), "GIF"))
    at = gif.find(b"\x2c")  # image descriptor
    lzw = at + 10 + (0 if not gif[at + 9] & 0x80 else 3 << ((gif[at + 9] & 7) + 1))
    broken = bytearray(gif)
    broken[lzw] = 12  # an LZW minimum code size no encoder writes
    yield "gif-lzw-code-size.gif", bytes(broken)
    garbage = bytearray(gif)
    garbage[lzw + 2 : lzw + 40] = bytes(range(200, 238))
    yield "gif-lzw-garbage.gif", bytes(garbage)
    yield "gif-cut-in-frame.gif", bytes(gif[: lzw + 5])
    frames = [picture(mode="P"), picture(mode="P").rotate(90)]
    animated = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    yield "gif-second-frame-cut.gif", animated[: len(animated) - 20]


def _tiff() -> bytes:
    return encode(picture(), "TIFF")


def tiff_bad_ifds():
    tiff = bytearray(_tiff())
    beyond = bytearray(tiff)
    beyond[4:8] = struct.pack("<I", len(tiff) + 4096)
    yield "tiff-ifd-beyond-eof.tif", bytes(beyond)
    (ifd,) = struct.unpack("<I", tiff[4:8])
    (count,) = struct.unpack("<H", tiff[ifd : ifd + 2])
    loop = bytearray(tiff)
    loop[ifd + 2 + 12 * count : ifd + 6 + 12 * count] = struct.pack("<I", ifd)
    yield "tiff-ifd-loop.tif", bytes(loop)
    strips = bytearray(tiff)
    for entry in range(count):
        at = ifd + 2 + 12 * entry
        (tag,) = struct.unpack("<H", strips[at : at + 2])
        if tag == 273:  # StripOffsets
            strips[at + 8 : at + 12] = struct.pack("<I", 0xFFFFFF00)
    yield "tiff-strip-offset-outside.tif", bytes(strips)
    yield "tiff-zero-entries.tif", b"II*\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    yield "tiff-huge-entry-count.tif", b"II*\x00\x08\x00\x00\x00\xff\xff" + b"\x00" * 64


def ppm_absurd():
    yield "ppm-maxval-huge.ppm", b"P6 4 4 99999999\n" + b"\x01" * 96
    yield "ppm-maxval-zero.ppm", b"P6 4 4 0\n" + b"\x01" * 48
    yield "pgm-negative.pgm", b"P5 -4 4 255\n" + b"\x01" * 16
    yield "ppm-text-garbage.ppm", b"P3 2 2 255\n1 2 x y 5 6 7 8 9 10 11 12\n"


def bmp_bad():
    bmp = bytearray(encode(picture(), "BMP"))
    negative = bytearray(bmp)
    negative[22:26] = struct.pack("<i", -(2**31))
    yield "bmp-negative-height.bmp", bytes(negative)
    topdown = bytearray(bmp)
    topdown[22:26] = struct.pack("<i", -32)  # top-down rows: valid
    yield "bmp-top-down.bmp", bytes(topdown)
    offset = bytearray(bmp)
    offset[10:14] = struct.pack("<I", 0x7FFFFFF0)
    yield "bmp-pixels-beyond-eof.bmp", bytes(offset)
    yield "bmp-cut.bmp", bytes(bmp[: len(bmp) // 2])


def webp_bad():
    webp = bytearray(encode(picture(), "WEBP"))
    riff = bytearray(webp)
    riff[4:8] = struct.pack("<I", 0xFFFFFFF0)
    yield "webp-riff-size-huge.webp", bytes(riff)
    chunk = bytearray(webp)
    chunk[16:20] = struct.pack("<I", 0x7FFFFFFF)
    yield "webp-chunk-size-huge.webp", bytes(chunk)
    yield "webp-cut.webp", bytes(webp[: len(webp) // 2])
    yield "webp-header-only.webp", b"RIFF\x04\x00\x00\x00WEBP"


def jpeg_bad_tables():
    jpeg = bytearray(_jpeg())
    sof = jpeg.find(b"\xff\xc0")
    zero = bytearray(jpeg)
    zero[sof + 9] = 0  # no components
    yield "jpeg-sof-no-components.jpg", bytes(zero)
    tiny = bytearray(jpeg)
    tiny[sof + 5 : sof + 9] = b"\x00\x00\x00\x00"
    yield "jpeg-sof-zero-size.jpg", bytes(tiny)
    dqt = jpeg.find(b"\xff\xdb")
    table = bytearray(jpeg)
    table[dqt + 4] = 0x0F  # table id 15
    yield "jpeg-dqt-bad-id.jpg", bytes(table)
    length = bytearray(jpeg)
    length[dqt + 2 : dqt + 4] = b"\xff\xff"
    yield "jpeg-dqt-length-huge.jpg", bytes(length)
    exif = b"Exif\x00\x00II*\x00" + struct.pack("<I", 0x7FFFFFF0)
    app1 = b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif
    yield "jpeg-exif-offset-outside.jpg", bytes(jpeg[:2]) + app1 + bytes(jpeg[2:])
    entries = struct.pack("<H", 1) + struct.pack("<HHII", 0x8769, 4, 1, 0x7FFFFFF0) + b"\0" * 4
    exif = b"Exif\x00\x00II*\x00" + struct.pack("<I", 8) + entries
    app1 = b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif
    yield "jpeg-exif-subifd-outside.jpg", bytes(jpeg[:2]) + app1 + bytes(jpeg[2:])


def ico_outside():
    ico = bytearray(encode(picture(), "ICO", sizes=[(32, 32)]))
    ico[18:22] = struct.pack("<I", 0x7FFFFF00)  # the first image's offset
    yield "ico-offset-outside.ico", bytes(ico)
    size = bytearray(encode(picture(), "ICO", sizes=[(32, 32)]))
    size[14:18] = struct.pack("<I", 0x7FFFFF00)  # the first image's byte count
    yield "ico-size-outside.ico", bytes(size)
    yield "ico-no-images.ico", b"\x00\x00\x01\x00\x00\x00"


def polyglots_and_markup():
    png = _png()
    html = b"<html><body><script>alert(document.cookie)</script></body></html>"
    yield "polyglot.html", png + html
    yield "polyglot-text.png", _after_ihdr(png_chunk(b"tEXt", b"Comment\x00" + html))
    yield (
        "payload.svg",
        (
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" '
            b'height="10"><script>alert(1)</script><rect width="10" height="10"/></svg>'
        ),
    )
    yield "page.html", b"<!doctype html>" + html
    yield "document.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"
    yield "archive.zip", b"PK\x03\x04" + b"\x00" * 40
    yield "postscript.eps", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"


def odd_names():
    jpeg = encode(picture().rotate(45), "JPEG")
    yield b"caf\xe9-latin1.jpg", jpeg
    yield b"\xff\xfe-bom-bytes.png", encode(picture().rotate(30), "PNG")
    yield "spaces and ' quotes \".jpg", encode(picture().rotate(60), "JPEG")


def random_and_repeated():
    yield "noise.jpg", bytes((i * 7919) % 251 for i in range(4096))
    yield "zeros.png", bytes(4096)
    png = _png()
    yield "png-bad-crc.png", png[:29] + b"\x00\x00\x00\x00" + png[33:]
    idat = png.find(b"IDAT")
    yield "png-idat-not-zlib.png", png[: idat + 4] + b"\x13" * 20 + png[idat + 24 :]


def valid_oddities():
    yield "cmyk.jpg", encode(picture(mode="CMYK"), "JPEG")
    yield "sixteen-bit.png", encode(picture(mode="L").convert("I;16"), "PNG")
    yield "alpha.png", encode(picture(mode="RGBA"), "PNG")
    frames = [picture(), picture().rotate(180)]
    yield "multi-page.tif", encode(frames[0], "TIFF", save_all=True, append_images=frames[1:])


KINDS: list[Callable[[], Iterator[tuple[str | bytes, bytes]]]] = [
    zero_bytes,
    one_byte,
    header_only,
    png_truncated_at_each_chunk,
    jpeg_truncated_at_each_segment,
    wrong_magic,
    huge_dimensions,
    text_chunk_bombs,
    apng_bad_frames,
    gif_bad_lzw,
    tiff_bad_ifds,
    ppm_absurd,
    bmp_bad,
    webp_bad,
    jpeg_bad_tables,
    ico_outside,
    polyglots_and_markup,
    odd_names,
    random_and_repeated,
    valid_oddities,
]


@functools.cache
def _cases() -> tuple[tuple[str | bytes, bytes], ...]:
    return tuple(case for kind in KINDS for case in kind())


def malformed_cases() -> list[tuple[str | bytes, bytes]]:
    """Every hand-made case as (file name, bytes); names may be bytes that are not UTF-8."""
    return list(_cases())
