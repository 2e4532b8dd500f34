"""Read IDX files, the binary format of MNIST and Fashion-MNIST.

An IDX file is a header followed by one flat block of numbers:

    bytes 0-1   zero
    byte  2     element type code (0x08 = uint8, see ``IDX_DTYPES``)
    byte  3     number of dimensions D
    D x 4 bytes the size of each dimension, big-endian unsigned 32-bit
    the rest    prod(sizes) elements in C order, big-endian

So the MNIST training images start with the magic number 0x00000803 (uint8, three dimensions) and
the sizes 60000, 28, 28; the labels start with 0x00000801 and the size 60000.

The whole file is read into memory and turned into an array with one ``np.frombuffer`` call, with no
loop over images. Files may be gzip-compressed or plain: the gzip signature (bytes 1f 8b) decides,
not the file name, because browsers sometimes save a decompressed download under its ``.gz`` name.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

__all__ = ["IDX_DTYPES", "DatasetError", "read_idx", "read_idx_bytes", "parse_idx"]

# Element type code -> numpy dtype. Multi-byte types are big-endian in the file.
IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

GZIP_SIGNATURE = b"\x1f\x8b"

DELETE_HINT = "Delete the file so that it is downloaded again, or replace it with a good copy."


class DatasetError(ValueError):
    """A data set file is invalid: wrong format, truncated, corrupt, or failing its checksum."""


def read_idx_bytes(path: str | os.PathLike) -> bytes:
    """Read a file and return its content, decompressed if it is gzip-compressed.

    Raises
    ------
    DatasetError
        If the gzip stream is corrupt or truncated.
    """
    raw = Path(path).read_bytes()
    if not raw.startswith(GZIP_SIGNATURE):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        # gzip.BadGzipFile is an OSError; a stream cut short raises EOFError.
        raise DatasetError(f"{path}: corrupt gzip stream ({exc}). {DELETE_HINT}") from exc


def parse_idx(content: bytes, source: str | os.PathLike = "<bytes>") -> np.ndarray:
    """Parse the content of an IDX file into a read-only array.

    Parameters
    ----------
    content : bytes
        The whole (decompressed) file.
    source : str or path
        Names the file in error messages.

    Returns
    -------
    ndarray of the shape and element type stored in the header, in native byte order. The array
    shares memory with ``content`` and is read-only.

    Raises
    ------
    DatasetError
        If the magic number is invalid, the data block is shorter or longer than the header declares,
        or numpy cannot make an array of the declared shape.
    """
    if len(content) < 4:
        raise DatasetError(
            f"{source}: file is {len(content)} bytes long, too short for the 4-byte IDX magic number. "
            f"{DELETE_HINT}"
        )

    type_code, ndim = content[2], content[3]
    if content[:2] != b"\x00\x00" or type_code not in IDX_DTYPES or ndim == 0:
        magic = int.from_bytes(content[:4], "big")
        known_codes = ", ".join(f"0x{code:02X}" for code in IDX_DTYPES)
        raise DatasetError(
            f"{source}: invalid IDX magic number 0x{magic:08X}; expected 0x0000TTDD with element "
            f"type TT in ({known_codes}) and D >= 1 dimensions. This is not an IDX file. {DELETE_HINT}"
        )

    header_size = 4 + 4 * ndim
    if len(content) < header_size:
        raise DatasetError(
            f"{source}: file is {len(content)} bytes long, but its header declares {ndim} dimensions "
            f"and so needs {header_size} bytes. The file is truncated. {DELETE_HINT}"
        )
    shape = struct.unpack(f">{ndim}I", content[4:header_size])

    dtype = IDX_DTYPES[type_code]
    # Python integers, because sizes of up to 2**32 - 1 can multiply to more than int64 can represent.
    # np.prod would wrap around, to 0 for (65536,) * 4 and to a negative number for (2**32 - 1,) * 2.
    expected_bytes = math.prod(shape) * dtype.itemsize
    actual_bytes = len(content) - header_size
    if actual_bytes != expected_bytes:
        problem = "is truncated" if actual_bytes < expected_bytes else "has extra bytes at the end"
        raise DatasetError(
            f"{source}: header declares shape {shape} of {dtype.name}, which needs {expected_bytes} "
            f"data bytes, but the file contains {actual_bytes} after its {header_size}-byte header; "
            f"the file {problem}. {DELETE_HINT}"
        )

    try:
        array = np.frombuffer(content, dtype=dtype, offset=header_size).reshape(shape)
    except ValueError as exc:
        # Two kinds of header get here. One declares more dimensions than numpy supports (64 in numpy 2,
        # 32 in numpy 1), as the byte D allows up to 255. The other declares an empty array such as shape
        # (0, 2**32 - 1, 2**32 - 1, 2**32 - 1), because numpy rejects a shape whose non-zero sizes multiply to
        # more than it can index, even when another size is 0.
        raise DatasetError(
            f"{source}: header declares shape {shape}, which numpy cannot make into an array "
            f"({str(exc).rstrip('.')}). {DELETE_HINT}"
        ) from None
    if dtype.byteorder == ">":
        array = array.astype(dtype.newbyteorder("="))
        array.flags.writeable = False
    return array


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read a gzip-compressed or plain IDX file into a read-only array (see ``parse_idx``)."""
    return parse_idx(read_idx_bytes(path), source=path)
