"""TensorDesc, Shape and AutoTuneCombination."""

from __future__ import annotations

import ctypes
from typing import Iterable

from .. import _lib
from .._dtypes import DataType, TensorFormat, parse_dtype, parse_format
from .._lib import lib
from ._sym import ShapeExpr, ShapeExprs, SizeTensorShapeExpr, SymIntExpr

__all__ = ["TensorDesc", "SizeTensorDesc", "Tensor", "Shape", "AutoTuneCombination",
           "from_shape_expr", "size_tensor"]


class Shape(tuple):
    """Concrete dimensions; -1 where a dimension is only known at run time."""

    def numel(self) -> int:
        if self.is_dynamic:
            raise ValueError(f"Shape{tuple(self)} has dynamic dimensions (-1)")
        n = 1
        for d in self:
            n *= d
        return n

    @property
    def is_dynamic(self) -> bool:
        return any(d < 0 for d in self)


class TensorDesc:
    """Describes a tensor of a plugin: dtype, format and symbolic shape. Holds
    no data. Inputs given to plugin functions are immutable; ``like()`` and
    ``aliased()`` make output descriptors."""

    _frozen = False

    def __init__(self, shape_expr=None, dtype: DataType | None = None, format=None,
                 scale=None):
        if shape_expr is not None and not isinstance(shape_expr, ShapeExprs):
            shape_expr = ShapeExprs.from_tuple(shape_expr)
        self.shape_expr = shape_expr if shape_expr is not None else ShapeExprs(0)
        self.dtype = DataType(dtype) if dtype is not None else None
        self.format = TensorFormat.LINEAR if format is None else TensorFormat(format)
        self.scale = scale
        self._aliased_to = None
        self._input_index = -1
        self._name = None
        self._is_size_tensor = False  # set for the outputs kiln describes

    def __setattr__(self, name, value):
        if self._frozen:
            raise AttributeError(
                f"input TensorDesc{' ' + repr(self._name) if self._name else ''} is "
                f"immutable (cannot set '{name}'); use like() to make an output")
        if name == "dtype" and value is not None:
            value = DataType(value)
        object.__setattr__(self, name, value)

    def _freeze(self):
        object.__setattr__(self, "_frozen", True)

    # -- properties -------------------------------------------------------------

    @property
    def ndim(self) -> int:
        return len(self.shape_expr)

    @property
    def shape(self) -> Shape:
        """The dimensions that are constants, -1 for the others."""
        dims = []
        for d in self.shape_expr:
            dims.append(d.constant_value() if d is not None and d.is_constant else -1)
        return Shape(dims)

    @property
    def has_shape_expr(self) -> bool:
        return True

    @property
    def is_dynamic(self) -> bool:
        return self.shape.is_dynamic

    @property
    def is_size_tensor(self) -> bool:
        """True for a size tensor (see trtp.size_tensor)."""
        return self._is_size_tensor

    @property
    def is_aliased(self) -> bool:
        return self._aliased_to is not None

    def get_aliased(self):
        return self._aliased_to

    def numel(self):
        """The element count: an int when every dimension is constant, else a
        ShapeExpr (TensorRT needs a concrete shape here; kiln gives the
        expression)."""
        n = self.shape_expr.numel()
        return n.constant_value() if n.is_constant else n

    # -- copies -----------------------------------------------------------------

    def like(self) -> "TensorDesc":
        """A mutable copy with the same dtype and shape, aliasing nothing."""
        out = TensorDesc(self.shape_expr._copy(), self.dtype, self.format, self.scale)
        return out

    def aliased(self) -> "TensorDesc":
        """A copy marked as written in place over this (input) tensor."""
        if self._input_index < 0:
            raise ValueError("aliased(): only an input TensorDesc can be aliased")
        out = self.like()
        out._aliased_to = self
        out._freeze()
        return out

    def __repr__(self):
        dims = ", ".join(str(d) for d in self.shape_expr)
        return f"TensorDesc(dtype={self.dtype}, shape_expr=({dims}))"


def from_shape_expr(shape_expr, dtype: DataType) -> TensorDesc:
    """A TensorDesc with |shape_expr| (a tuple of ints/ShapeExprs or a
    ShapeExprs) and |dtype|. A size tensor's ``expr()`` may be a dimension:
    ``from_shape_expr((st.expr(), 2), dtype=trt.int32)``."""
    if not isinstance(shape_expr, ShapeExprs):
        shape_expr = ShapeExprs.from_tuple(shape_expr)
    return TensorDesc(shape_expr, dtype)


#===----------------------------------------------------------------------===#
# Size tensors: data-dependent output shapes
#===----------------------------------------------------------------------===#

_SIZE_TENSOR_DTYPES = (DataType.INT32, DataType.INT64)


class SizeTensorDesc(TensorDesc):
    """A size tensor: a 0-D output whose value the plugin's kernel computes
    (the number of non-zero elements, say) and that other outputs use as a
    data-dependent dimension through ``expr()``. Its dtype is INT32 by
    default and may be set to INT64 (``st.dtype = trt.int64``); nothing else.
    ``opt`` (for tuning) and ``upper_bound`` (for memory: the engine plans
    data-dependent outputs at their upper bounds, and a kernel that writes a
    count above it is an error at run time) are symbolic integers of the
    input shapes. The describe function must return it as one of its
    outputs. Make it with trtp.size_tensor."""

    def __init__(self, opt: ShapeExpr, upper_bound: ShapeExpr):
        super().__init__(ShapeExprs(0), DataType.INT32)
        object.__setattr__(self, "_opt", opt)
        object.__setattr__(self, "_upper_bound", upper_bound)
        object.__setattr__(self, "_index", None)  # the output position, set by kiln
        object.__setattr__(self, "_expr", None)
        object.__setattr__(self, "_is_size_tensor", True)

    def __setattr__(self, name, value):
        if name == "dtype" and value is not None:
            value = DataType(value)
            if value not in _SIZE_TENSOR_DTYPES:
                raise ValueError(f"a size tensor's dtype is INT32 or INT64, not {value}")
        elif name == "shape_expr" and getattr(self, "_expr", None) is not None:
            raise ValueError("a size tensor has no dimensions (it is 0-D)")
        super().__setattr__(name, value)

    @property
    def opt(self) -> ShapeExpr:
        return self._opt

    @property
    def upper_bound(self) -> ShapeExpr:
        return self._upper_bound

    def expr(self) -> SizeTensorShapeExpr:
        """The size tensor's value as a dimension of another output (no
        arithmetic is permitted on it, as in TensorRT)."""
        if self._expr is None:
            object.__setattr__(self, "_expr", SizeTensorShapeExpr(self))
        return self._expr

    def like(self) -> "SizeTensorDesc":
        raise ValueError("like() of a size tensor: make another with trtp.size_tensor")

    def __repr__(self):
        return (f"SizeTensorDesc(dtype={self.dtype}, opt={self._opt}, "
                f"upper_bound={self._upper_bound})")


def _size_tensor_bound(value, what: str) -> ShapeExpr:
    if isinstance(value, SizeTensorShapeExpr):
        raise ValueError(f"trtp.size_tensor: {what} must not depend on a size tensor (TRT "
                         "limitation)")
    if isinstance(value, SymIntExpr):
        return value if isinstance(value, ShapeExpr) else ShapeExpr(value)
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"trtp.size_tensor: {what} must be an int or a ShapeExpr, got "
                        f"{type(value).__name__}")
    return ShapeExpr(value.__index__())


def size_tensor(opt, upper_bound) -> SizeTensorDesc:
    """A size tensor for a data-dependent output shape (TensorRT's
    ``trtp.size_tensor``): ``opt`` is the value to tune for and
    ``upper_bound`` the most it may hold, both ints or expressions of the
    input shapes that do not depend on a size tensor. Return it from the
    describe function as an output, and use ``expr()`` in the dimensions of
    the others:

        st = trtp.size_tensor(n // 2, n)
        return trtp.from_shape_expr((st.expr(),), dtype=trt.int32), st
    """
    return SizeTensorDesc(_size_tensor_bound(opt, "opt"),
                          _size_tensor_bound(upper_bound, "upper_bound"))


def _bind_size_tensors(where: str, outputs) -> None:
    """Gives each SizeTensorDesc among |outputs| (what a describe function
    returned) its output position, and checks that every size tensor the
    outputs' dimensions use is among them."""
    for i, d in enumerate(outputs):
        if isinstance(d, SizeTensorDesc):
            object.__setattr__(d, "_index", i)
    for i, d in enumerate(outputs):
        if not isinstance(d, TensorDesc):
            continue
        for k, e in enumerate(d.shape_expr):
            if not isinstance(e, SizeTensorShapeExpr):
                continue
            index = e._desc._index
            if index is None or index >= len(outputs) or outputs[index] is not e._desc:
                raise ValueError(
                    f"{where}: output {i} dimension {k} uses a size tensor that is not among the "
                    "returned outputs; return the trtp.size_tensor(...) descriptor as an "
                    "output too (TensorRT requires it)")


#===----------------------------------------------------------------------===#
# AutoTuneCombination
#===----------------------------------------------------------------------===#


def _split_entries(spec: str) -> list[str]:
    return [e.strip() for e in spec.split(",")]


def _check_entry(entry: str, parse, what: str) -> str:
    if "|" in entry and "*" in entry:
        raise ValueError(f"AutoTuneCombination: {what} entry '{entry}' mixes '|' and '*'")
    for name in entry.replace("*", "|").split("|"):
        parse(name)  # ValueError naming the culprit (B6 fixed)
    return entry


class AutoTuneCombination:
    """Supported type/format combinations and tactics, in TensorRT's grammar:
    ``"FP32|FP16, FP32|FP16"`` (dependent) or ``"FP32*FP16, FP32"``
    (independent). ``pos`` takes an int or a list of positions (B1 fixed)."""

    def __init__(self, io_types: str | None = None, layouts: str | None = None,
                 tactics: Iterable[int] | None = None):
        self._types: dict[int, str] = {}
        self._layouts: dict[int, str] = {}
        self._tactics: list[int] = []
        if io_types is not None:
            for i, entry in enumerate(_split_entries(io_types)):
                self._types[i] = _check_entry(entry, parse_dtype, "type")
        if layouts is not None:
            entries = _split_entries(layouts)
            for i, entry in enumerate(entries):
                self._layouts[i] = _check_entry(entry, parse_format, "layout")
            self._broadcast_layout = entries[0] if len(entries) == 1 else None
        else:
            self._broadcast_layout = None
        if tactics is not None:
            self.tactics(tactics)

    def pos(self, pos, io_types: str, layouts: str = "LINEAR") -> "AutoTuneCombination":
        positions = [pos] if isinstance(pos, int) and not isinstance(pos, bool) else list(pos)
        if not positions:
            raise ValueError("AutoTuneCombination.pos: no position given")
        _check_entry(io_types.strip(), parse_dtype, "type")
        _check_entry(layouts.strip(), parse_format, "layout")
        for p in positions:
            if not isinstance(p, int) or isinstance(p, bool) or p < 0:
                raise ValueError(f"AutoTuneCombination.pos: bad position {p!r}")
            if p in self._types:
                raise ValueError(f"AutoTuneCombination.pos: position {p} is already set")
        for p in positions:
            self._types[p] = io_types.strip()
            self._layouts[p] = layouts.strip()
        return self

    def tactics(self, tactics: Iterable[int]) -> "AutoTuneCombination":
        values = list(tactics)
        for t in values:
            if not isinstance(t, int) or isinstance(t, bool):
                raise ValueError(f"AutoTuneCombination.tactics: {t!r} is not an int")
        self._tactics = [int(t) for t in values]
        return self

    def _spec(self, io_count: int) -> tuple[str, str]:
        missing = [i for i in range(io_count) if i not in self._types]
        extra = [i for i in self._types if i >= io_count]
        if missing or extra:
            raise ValueError(
                f"AutoTuneCombination covers positions {sorted(self._types)} but the plugin has "
                f"{io_count} inputs and outputs" + (f" (missing {missing})" if missing else ""))
        types = ", ".join(self._types[i] for i in range(io_count))
        if self._broadcast_layout is not None and len(self._layouts) <= 1:
            layouts = self._broadcast_layout
        else:
            layouts = ", ".join(self._layouts.get(i, "LINEAR") for i in range(io_count))
        return types, layouts

    def _add_to(self, result, io_count: int) -> None:
        """Adds this combination's expansion to a C kiln_autotune_result_t."""
        types, layouts = self._spec(io_count)
        tactics = (ctypes.c_int32 * _builtin_len1(self._tactics))(*self._tactics)
        _lib.check(lib.kiln_autotune_result_add_spec(
            result, types.encode(), layouts.encode(), tactics, len(self._tactics)))

    def expand(self, io_count: int) -> list[tuple[tuple[DataType, ...], tuple[TensorFormat, ...],
                                                   tuple[int, ...]]]:
        """The combinations this expands to, as the C core sees them: a list
        of (types, formats, tactics)."""
        return expand([self], io_count)

    def __repr__(self):
        return (f"AutoTuneCombination(types={self._types}, layouts={self._layouts}, "
                f"tactics={self._tactics})")


def _builtin_len1(values) -> int:
    return len(values) if values else 1


def expand(combinations, io_count: int):
    """Expands AutoTuneCombinations through the C core (duplicates unioned)."""
    result = ctypes.c_void_p()
    _lib.check(lib.kiln_autotune_result_create(io_count, _lib.ALLOCATOR, ctypes.byref(result)))
    try:
        for c in combinations:
            c._add_to(result, io_count)
        out = []
        for i in range(lib.kiln_autotune_result_count(result)):
            combo = lib.kiln_autotune_result_at(result, i)
            out.append((
                tuple(DataType(combo.io_types[k]) for k in range(io_count)),
                tuple(TensorFormat(combo.io_formats[k]) for k in range(io_count)),
                tuple(combo.tactics[k] for k in range(combo.tactic_count)),
            ))
        return out
    finally:
        lib.kiln_autotune_result_destroy(result)


#===----------------------------------------------------------------------===#
# Tensor: what a host implementation (trtp.impl) receives
#===----------------------------------------------------------------------===#

# __cuda_array_interface__ typestrs; BF16 and FP8 have none (rejected).
_TYPESTR = {
    DataType.FLOAT: "<f4", DataType.HALF: "<f2", DataType.INT8: "|i1",
    DataType.INT32: "<i4", DataType.INT64: "<i8", DataType.UINT8: "|u1",
    DataType.BOOL: "|b1",
}


class Tensor:
    """A tensor on the device, as ``trtp.impl`` receives it (TensorRT's
    ``trtp.Tensor``): ``data_ptr``, ``dtype``, ``shape``, ``format``,
    ``strides`` (in elements), ``ndim``, ``numel()`` and
    ``__cuda_array_interface__`` (v3, with the stream), so
    ``torch.as_tensor(t, device="cuda")`` and ``cupy.asarray(t)`` see it
    without a copy. Valid only during the call."""

    def __init__(self, data_ptr: int, dtype, shape, strides=None, format=None,
                 stream: int = 0, scale=None):
        self._data_ptr = int(data_ptr or 0)
        self._dtype = DataType(dtype)
        self._shape = Shape(int(d) for d in shape)
        if strides is None:
            strides, acc = [], 1
            for d in reversed(self._shape):
                strides.append(acc)
                acc *= max(int(d), 1)
            strides = reversed(strides)
        self._strides = tuple(int(s) for s in strides)
        self._format = TensorFormat.LINEAR if format is None else TensorFormat(format)
        self._stream = int(stream or 0)
        self._scale = scale
        self._aliased_to = None

    @classmethod
    def _from_c(cls, c, stream: int) -> "Tensor":
        return cls(c.data or 0, c.dtype, [c.dims[k] for k in range(c.rank)],
                   [c.strides[k] for k in range(c.rank)], c.format, stream)

    @property
    def data_ptr(self) -> int:
        return self._data_ptr

    @property
    def dtype(self) -> DataType:
        return self._dtype

    @property
    def shape(self) -> Shape:
        return self._shape

    @property
    def format(self) -> TensorFormat:
        return self._format

    @property
    def scale(self):
        return self._scale

    @property
    def strides(self) -> tuple:
        """Strides in elements."""
        return self._strides

    @property
    def ndim(self) -> int:
        return len(self._shape)

    @property
    def is_data_dependent(self) -> bool:
        return self._shape.is_dynamic

    def numel(self) -> int:
        if self.is_data_dependent:
            raise ValueError(f"Tensor.numel(): shape {tuple(self._shape)} is data-dependent")
        return self._shape.numel()

    @property
    def is_aliased(self) -> bool:
        """True when this tensor aliases another (B5 fixed: TensorRT inverts it)."""
        return self._aliased_to is not None

    def get_aliased(self) -> "Tensor | None":
        return self._aliased_to

    def aliased(self, shape=None) -> "Tensor":
        """A view of the same memory, with |shape| (same element count) or this
        tensor's shape."""
        if shape is None:
            out = Tensor(self._data_ptr, self._dtype, self._shape, self._strides, self._format,
                         self._stream, self._scale)
        else:
            new = Shape(int(d) for d in shape)
            if not self.is_data_dependent and new.numel() != self.numel():
                raise ValueError(f"Tensor.aliased(shape={tuple(new)}): {new.numel()} elements, "
                                 f"but the tensor has {self.numel()}")
            out = Tensor(self._data_ptr, self._dtype, new, None, self._format, self._stream,
                         self._scale)
        out._aliased_to = self
        return out

    @property
    def __cuda_array_interface__(self) -> dict:
        typestr = _TYPESTR.get(self._dtype)
        if typestr is None:
            raise TypeError(f"Tensor of dtype {self._dtype} has no __cuda_array_interface__ "
                            "(it has no typestr for BF16 or FP8); use data_ptr")
        itemsize = self._dtype.itemsize
        return {
            "shape": tuple(self._shape),
            "typestr": typestr,
            "data": (self._data_ptr, False),
            "version": 3,
            "strides": tuple(s * itemsize for s in self._strides),
            # v3: 1 is the legacy default stream (a NULL CUstream); 0 is not allowed.
            "stream": self._stream or 1,
        }

    def __repr__(self):
        return (f"Tensor(data_ptr=0x{self._data_ptr:x}, dtype={self._dtype}, "
                f"shape={tuple(self._shape)})")
