"""Data types and tensor formats, spelled as TensorRT spells them."""

from __future__ import annotations

import ctypes
import enum

from . import _lib
from ._lib import lib


class DataType(enum.IntEnum):
    """Element types; the values are kiln_dtype_t's."""

    FLOAT = 0
    HALF = 1
    BF16 = 2
    FP8 = 3
    FP8_E5M2 = 4
    INT8 = 5
    INT32 = 6
    INT64 = 7
    UINT8 = 8
    BOOL = 9

    @property
    def itemsize(self) -> int:
        return int(lib.kiln_dtype_size(int(self)))

    @property
    def kiln_name(self) -> str:
        return lib.kiln_dtype_name(int(self)).decode()

    def __repr__(self):
        return f"DataType.{self.name}"

    __str__ = __repr__


class TensorFormat(enum.IntEnum):
    """Tensor layouts; only dense row-major exists."""

    LINEAR = 0

    def __repr__(self):
        return f"TensorFormat.{self.name}"


float32 = DataType.FLOAT
float16 = DataType.HALF
bfloat16 = DataType.BF16
fp8 = DataType.FP8
int8 = DataType.INT8
int32 = DataType.INT32
int64 = DataType.INT64
uint8 = DataType.UINT8
bool = DataType.BOOL  # noqa: A001 - TensorRT's name


def parse_dtype(name: str) -> DataType:
    """Parses "FP32", "HALF", "float16", ... through the C core. ValueError
    (InvalidArgumentError) naming the string otherwise (B6 fixed)."""
    if not isinstance(name, str):
        raise TypeError(f"a dtype name must be a str, not {type(name).__name__}")
    data = name.strip().encode()
    out = ctypes.c_int()
    _lib.check(lib.kiln_dtype_parse(_lib.string_view(data), ctypes.byref(out)))
    return DataType(out.value)


def parse_format(name: str) -> TensorFormat:
    data = name.strip().encode()
    out = ctypes.c_int()
    _lib.check(lib.kiln_format_parse(_lib.string_view(data), ctypes.byref(out)))
    return TensorFormat(out.value)


_NUMPY = {
    "float32": DataType.FLOAT, "float16": DataType.HALF, "int8": DataType.INT8,
    "int32": DataType.INT32, "int64": DataType.INT64, "uint8": DataType.UINT8,
    "bool": DataType.BOOL,
}


def as_dtype(value) -> DataType:
    """Accepts a DataType, a name, or a numpy/torch dtype."""
    if isinstance(value, DataType):
        return value
    if isinstance(value, str):
        return parse_dtype(value)
    name = str(value).replace("torch.", "")
    try:
        import numpy as np  # optional
        name = np.dtype(value).name
    except Exception:
        pass
    if name in _NUMPY:
        return _NUMPY[name]
    if name == "bfloat16":
        return DataType.BF16
    raise TypeError(f"not a kiln dtype: {value!r}")


def to_numpy(dtype: DataType):
    import numpy as np
    table = {v: k for k, v in _NUMPY.items()}
    if dtype not in table:
        raise TypeError(f"{dtype} has no numpy equivalent")
    return np.dtype(table[dtype])
