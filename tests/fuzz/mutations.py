"""Byte mutations of valid files, shared by the fuzz tests."""

from hypothesis import strategies as st

KINDS = ["flip", "truncate", "insert", "repeat", "zero", "ff"]


def mutate(draw, data: bytes, *, min_ops: int = 0, max_ops: int = 5) -> bytes:
    """Flip, truncate, insert, repeat, zero or saturate bytes of data, a few times."""
    data = bytearray(data)
    for _ in range(draw(st.integers(min_ops, max_ops))):
        kind = draw(st.sampled_from(KINDS))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 512))]
        elif kind == "zero":
            data[at : at + 16] = bytes(len(data[at : at + 16]))
        elif kind == "ff":
            data[at : at + 8] = b"\xff" * len(data[at : at + 8])
    return bytes(data)
