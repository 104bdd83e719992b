"""Minimal .npy reader/writer without numpy, for sp-run's inputs and outputs.

sp-run stores bf16 as '<u2' (raw bits) and fp8 as '|u1' (raw bits), since
numpy has no such dtypes; `bf16_bits`/`from_bf16_bits` convert.
"""

from __future__ import annotations

import ast
import struct

_FORMATS = {"<f4": "f", "<f8": "d", "<f2": "e", "<u2": "H", "|u1": "B",
            "<u1": "B", "|i1": "b", "<i2": "h", "<i4": "i", "<i8": "q"}


def write(path: str, descr: str, shape: tuple[int, ...], values) -> None:
    """Writes `values` (a flat sequence, row-major) as an .npy file."""
    if descr not in _FORMATS:
        raise ValueError(f"unsupported dtype {descr!r}")
    shape_text = "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}"
    total = 10 + len(header) + 1
    header += " " * ((64 - total % 64) % 64) + "\n"
    count = 1
    for d in shape:
        count *= d
    values = list(values)
    if len(values) != count:
        raise ValueError(f"{len(values)} values for shape {shape}")
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
        f.write(struct.pack("<" + _FORMATS[descr] * count, *values))


def header(path: str):
    """Returns (descr, shape) without reading the values."""
    with open(path, "rb") as f:
        data = f.read(4096)
    descr, shape, _ = _parse(path, data, values=False)
    return descr, shape


def read(path: str):
    """Returns (descr, shape, flat list of values)."""
    with open(path, "rb") as f:
        data = f.read()
    return _parse(path, data, values=True)


def _parse(path: str, data: bytes, values: bool):
    if not data.startswith(b"\x93NUMPY"):
        raise ValueError(f"{path}: not an .npy file")
    major = data[6]
    if major == 1:
        (length,) = struct.unpack("<H", data[8:10])
        start = 10
    else:
        (length,) = struct.unpack("<I", data[8:12])
        start = 12
    header = ast.literal_eval(data[start:start + length].decode("latin1"))
    descr, shape = header["descr"], tuple(header["shape"])
    count = 1
    for d in shape:
        count *= d
    if not values:
        return descr, shape, None
    body = data[start + length:]
    return descr, shape, list(struct.unpack("<" + _FORMATS[descr] * count, body))


def bf16_bits(value: float) -> int:
    """Round an f32 value to bf16 (nearest even) and return its bits."""
    (u,) = struct.unpack("<I", struct.pack("<f", value))
    if (u & 0x7FFFFFFF) > 0x7F800000:
        return (u >> 16) | 0x40
    u += 0x7FFF + ((u >> 16) & 1)
    return (u >> 16) & 0xFFFF


def from_bf16_bits(bits: int) -> float:
    (f,) = struct.unpack("<f", struct.pack("<I", (bits & 0xFFFF) << 16))
    return f
