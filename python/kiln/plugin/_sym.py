"""Symbolic integers: SymInt32, ShapeExpr and their containers.

Every value wraps a ``kiln_sym_t`` node of a C ``kiln_sym_table_t``; the
arithmetic, the simplification and the printing are the C core's. While a
plugin callback runs, new expressions go into the table kiln handed to that
callback (the "current scope"); outside callbacks they go into a private
process-wide scratch table. An expression from another table is rebuilt node
by node in the target table when combined, so values made outside a callback
(``SymInt32(256)`` at import time) work inside one.
"""

from __future__ import annotations

import ctypes
import threading
from contextlib import contextmanager
from typing import Iterable

from .. import _lib
from .._lib import lib

__all__ = [
    "SymExpr", "SymIntExpr", "SymInt32", "ShapeExpr", "SizeTensorShapeExpr", "ShapeExprs",
    "SymExprs", "SymIntExprs", "KernelLaunchParams", "cdiv", "max", "min",
]

_builtin_max = max
_builtin_min = min

#===----------------------------------------------------------------------===#
# Scopes: which C table expressions are built in
#===----------------------------------------------------------------------===#


class _Scope:
    """A C table (or None: readable nodes owned elsewhere) that lives while
    ``alive``. ``names`` name input tensors when printing."""

    __slots__ = ("table", "alive", "names", "what")

    def __init__(self, table, names=(), what="callback"):
        self.table = table
        self.alive = True
        self.names = tuple(names)
        self.what = what


_tls = threading.local()
_scratch_lock = threading.Lock()
_scratch: _Scope | None = None


def _scratch_scope() -> _Scope:
    global _scratch
    if _scratch is None:
        with _scratch_lock:
            if _scratch is None:
                table = ctypes.c_void_p()
                _lib.check(lib.kiln_sym_table_create(_lib.ALLOCATOR, ctypes.byref(table)))
                _scratch = _Scope(table.value, what="scratch")
    return _scratch


def current_scope() -> _Scope:
    scope = getattr(_tls, "scope", None)
    return scope if scope is not None else _scratch_scope()


@contextmanager
def scope(table, names=(), what="callback"):
    """Makes |table| the current scope while the block runs; expressions made
    in it expire when it ends."""
    s = _Scope(table, names, what)
    previous = getattr(_tls, "scope", None)
    _tls.scope = s
    try:
        yield s
    finally:
        _tls.scope = previous
        s.alive = False


def _take_table_error(table):
    _lib.check(lib.kiln_sym_table_take_error(table))


def _import(node: int, src: _Scope, dst: _Scope, memo: dict) -> int:
    """Rebuilds |node| (readable from |src|) in |dst|'s table."""
    got = memo.get(node)
    if got is not None:
        return got
    info = lib.kiln_sym_get_info(node)
    table = dst.table
    if info.op == _lib.SYM_OP_CONST:
        out = lib.kiln_sym_const(table, info.value)
    elif info.op == _lib.SYM_OP_DIM:
        out = lib.kiln_sym_dim(table, info.tensor, info.dim)
    elif info.op == _lib.SYM_OP_SIZE_TENSOR:
        out = lib.kiln_sym_size_tensor(table, info.index, _import(info.a, src, dst, memo),
                                       _import(info.b, src, dst, memo))
    elif _lib.SYM_OP_SUM <= info.op <= _lib.SYM_OP_LESS:
        a = _import(info.a, src, dst, memo)
        b = _import(info.b, src, dst, memo)
        out_node = ctypes.c_void_p()
        _lib.check(lib.kiln_sym_make(table, info.op, a, b, ctypes.byref(out_node)))
        out = out_node.value
    else:  # pragma: no cover - a node kiln does not know
        raise ValueError(f"cannot copy a symbolic expression with op {info.op}")
    if not out:
        _take_table_error(table)
        raise ValueError("kiln: could not copy a symbolic expression")
    memo[node] = out
    return out


#===----------------------------------------------------------------------===#
# Expressions
#===----------------------------------------------------------------------===#


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class SymExpr:
    """Base of symbolic values (not exported by tensorrt.plugin either)."""

    __slots__ = ("_scope", "_node")
    __hash__ = None  # == builds an expression, so values are unhashable


class SymIntExpr(SymExpr):
    """A symbolic integer: an interned C expression node."""

    __slots__ = ()

    def __init__(self, value=None):
        if value is None:
            raise TypeError(f"{type(self).__name__}() needs an int or a symbolic integer")
        if isinstance(value, SizeTensorShapeExpr):
            raise value._limitation(f"{type(self).__name__}(...)")
        if isinstance(value, SymIntExpr):
            self._scope, self._node = value._scope, value._node
            return
        if isinstance(value, bool) or not _is_int(value):
            # numpy integers and other int-likes are accepted through __index__.
            try:
                value = value.__index__()
            except (AttributeError, TypeError):
                raise TypeError(
                    f"{type(self).__name__}() takes an int or a symbolic integer, "
                    f"not {type(value).__name__}") from None
        if not -(1 << 63) <= value < (1 << 63):
            raise OverflowError(f"{value} does not fit in int64")
        s = current_scope()
        node = lib.kiln_sym_const(s.table, value)
        if not node:
            _take_table_error(s.table)
        self._scope, self._node = s, node

    @classmethod
    def _wrap(cls, scope: _Scope, node: int):
        obj = cls.__new__(cls)
        obj._scope, obj._node = scope, node
        return obj

    # -- access ---------------------------------------------------------------

    def _check_alive(self):
        if not self._scope.alive:
            raise ValueError(
                f"this {type(self).__name__} was made inside a plugin callback that has "
                "returned; symbolic values cannot be kept across callbacks")

    def _node_in(self, dst: _Scope) -> int:
        self._check_alive()
        if self._scope is dst or self._scope.table is not None and self._scope.table == dst.table:
            return self._node
        return _import(self._node, self._scope, dst, {})

    # -- queries (B4: these work on every SymInt32, not only ShapeExpr) --------

    @property
    def is_constant(self) -> bool:
        self._check_alive()
        return bool(lib.kiln_sym_is_constant(self._node, None))

    def constant_value(self) -> int:
        self._check_alive()
        value = ctypes.c_int64()
        if not lib.kiln_sym_is_constant(self._node, ctypes.byref(value)):
            raise ValueError(f"{self} is not a constant")
        return value.value

    def __bool__(self):
        if not self.is_constant:
            raise ValueError(
                f"the truth value of the symbolic expression {self} is not known "
                "until the shapes are; use is_constant / constant_value()")
        return self.constant_value() != 0

    def __int__(self):
        return self.constant_value()

    def __str__(self):
        if not self._scope.alive:
            return "<expired>"
        names = [n.encode() for n in self._scope.names]
        arr = (ctypes.c_char_p * _builtin_max(1, len(names)))(*names)
        capacity = 256
        while True:
            buf = ctypes.create_string_buffer(capacity)
            length = ctypes.c_size_t()
            status = lib.kiln_sym_print(self._node, arr, len(names), buf, capacity,
                                        ctypes.byref(length))
            err = _lib.take_status(status)
            if err is None:
                return buf.value.decode("utf-8", "replace")
            if isinstance(err, _lib.OutOfRangeError) and capacity < (1 << 24):
                capacity *= 8
                continue
            raise err

    def __repr__(self):
        return f"{type(self).__name__}({self})"

    # -- arithmetic ------------------------------------------------------------

    def _result_type(self, other):
        if isinstance(self, ShapeExpr) or isinstance(other, ShapeExpr):
            return ShapeExpr
        return SymInt32

    def _binary(self, op: int, other, reflected=False, name="?"):
        if isinstance(other, SymIntExpr):
            pass
        elif _is_int(other) or hasattr(other, "__index__") and not isinstance(other, (bool, float)):
            other = SymInt32(other.__index__() if not _is_int(other) else other)
        else:
            return NotImplemented
        a, b = (other, self) if reflected else (self, other)
        return _make(op, a, b, self._result_type(other))

    def __add__(self, o): return self._binary(_lib.SYM_OP_SUM, o)
    def __radd__(self, o): return self._binary(_lib.SYM_OP_SUM, o, True)
    def __sub__(self, o): return self._binary(_lib.SYM_OP_SUB, o)
    def __rsub__(self, o): return self._binary(_lib.SYM_OP_SUB, o, True)
    def __mul__(self, o): return self._binary(_lib.SYM_OP_PROD, o)
    def __rmul__(self, o): return self._binary(_lib.SYM_OP_PROD, o, True)
    def __floordiv__(self, o): return self._binary(_lib.SYM_OP_FLOOR_DIV, o)
    def __rfloordiv__(self, o): return self._binary(_lib.SYM_OP_FLOOR_DIV, o, True)
    def __eq__(self, o): return self._binary(_lib.SYM_OP_EQUAL, o)
    def __lt__(self, o): return self._binary(_lib.SYM_OP_LESS, o)
    def __gt__(self, o): return self._binary(_lib.SYM_OP_LESS, o, True)

    def __ne__(self, o):
        eq = self.__eq__(o)
        return eq if eq is NotImplemented else eq == 0

    def __le__(self, o):  # a <= b  ==  a < b + 1
        if not isinstance(o, SymIntExpr) and not _is_int(o):
            return NotImplemented
        return self < (o + 1)

    def __ge__(self, o):  # a >= b  ==  b < a + 1
        if not isinstance(o, SymIntExpr) and not _is_int(o):
            return NotImplemented
        return _make(_lib.SYM_OP_LESS, _as_sym(o), self + 1, self._result_type(o))

    def __mod__(self, o):
        if not isinstance(o, SymIntExpr) and not _is_int(o):
            return NotImplemented
        return self - (self // o) * o

    def __rmod__(self, o):
        if not _is_int(o):
            return NotImplemented
        return SymInt32(o) % self

    def __neg__(self):
        return 0 - self

    def __pos__(self):
        return self

    def __truediv__(self, o):
        raise TypeError("symbolic integers have no true division: use // or trtp.cdiv")

    __rtruediv__ = __truediv__


def _as_sym(value) -> SymIntExpr:
    if isinstance(value, SymIntExpr):
        return value
    return SymInt32(value)


def _make(op: int, a: SymIntExpr, b: SymIntExpr, cls):
    for x in (a, b):
        if isinstance(x, SizeTensorShapeExpr):
            raise x._limitation(_OP_NAMES.get(op, "arithmetic"))
    dst = current_scope()
    na = a._node_in(dst)
    nb = b._node_in(dst)
    out = ctypes.c_void_p()
    _lib.check(lib.kiln_sym_make(dst.table, op, na, nb, ctypes.byref(out)))
    return cls._wrap(dst, out.value)


class SymInt32(SymIntExpr):
    """A symbolic int32: what launch parameters and extra kernel arguments are.

    ``SymInt32(5)``, ``SymInt32(shape_expr)``; supports + - * // % == != < <= >
    >= (reflected too: ``2 * N``), unary -, ``is_constant`` and
    ``constant_value()``.
    """

    __slots__ = ()


class ShapeExpr(SymInt32):
    """A symbolic tensor dimension."""

    __slots__ = ()

    @property
    def is_fake(self) -> bool:
        return False

    @property
    def is_size_tensor(self) -> bool:
        self._check_alive()
        return lib.kiln_sym_get_info(self._node).op == _lib.SYM_OP_SIZE_TENSOR


_OP_NAMES = {
    _lib.SYM_OP_SUM: "+", _lib.SYM_OP_SUB: "-", _lib.SYM_OP_PROD: "*",
    _lib.SYM_OP_FLOOR_DIV: "//", _lib.SYM_OP_CEIL_DIV: "cdiv", _lib.SYM_OP_MAX: "max",
    _lib.SYM_OP_MIN: "min", _lib.SYM_OP_EQUAL: "==", _lib.SYM_OP_LESS: "<",
}


class SizeTensorShapeExpr(ShapeExpr):
    """The value of a size tensor used as a dimension: what
    ``trtp.size_tensor(opt, upper_bound).expr()`` returns, for
    ``trtp.from_shape_expr((st.expr(), 2), dtype=...)``. As in TensorRT, no
    arithmetic is permitted on it (every operator raises a TypeError naming
    the limitation): use it as a whole dimension. Inside kiln it becomes the
    placeholder ``kiln_sym_size_tensor(index, opt, upper_bound)`` once the
    describe function has returned the size tensor as an output (the index
    is that output's position)."""

    __slots__ = ("_desc",)

    def __init__(self, desc):  # made by SizeTensorDesc.expr()
        self._desc = desc
        self._scope = current_scope()
        self._node = None

    def _limitation(self, what: str) -> TypeError:
        return TypeError(
            f"{what} on the size tensor expression {self} is not permitted (TRT limitation: "
            "a size tensor's expression is used as a whole dimension, with no arithmetic)")

    def _binary(self, op: int, other, reflected=False, name="?"):
        raise self._limitation(_OP_NAMES.get(op, "arithmetic"))

    def __eq__(self, o):
        raise self._limitation("==")

    def __ne__(self, o):
        raise self._limitation("!=")

    def __lt__(self, o):
        raise self._limitation("<")

    def __gt__(self, o):
        raise self._limitation(">")

    def __le__(self, o):
        raise self._limitation("<=")

    def __ge__(self, o):
        raise self._limitation(">=")

    def __mod__(self, o):
        raise self._limitation("%")

    def __rmod__(self, o):
        raise self._limitation("%")

    def __neg__(self):
        raise self._limitation("unary -")

    __hash__ = None

    @property
    def is_size_tensor(self) -> bool:
        return True

    @property
    def is_constant(self) -> bool:
        return False

    def constant_value(self) -> int:
        raise ValueError(f"{self} is a size tensor's value, known only when the engine runs")

    def __bool__(self):
        raise ValueError(f"the truth value of {self} is known only when the engine runs")

    def __str__(self):
        index = self._desc._index
        head = f"s{index}" if index is not None else "size_tensor"
        return f"{head}(opt={self._desc.opt}, upper_bound={self._desc.upper_bound})"

    def _node_in(self, dst: _Scope) -> int:
        self._check_alive()
        index = self._desc._index
        if index is None:
            raise ValueError(
                f"{self} is used as a dimension, but its size tensor is not an output: return the "
                "trtp.size_tensor(...) descriptor from the describe function too")
        opt = self._desc.opt._node_in(dst)
        upper = self._desc.upper_bound._node_in(dst)
        node = lib.kiln_sym_size_tensor(dst.table, index, opt, upper)
        if not node:
            _take_table_error(dst.table)
            raise ValueError(f"kiln: could not make the size tensor placeholder {self}")
        return node


def _sym_or_int(value, what: str):
    if isinstance(value, SymIntExpr):
        return value
    if _is_int(value):
        return value
    if hasattr(value, "__index__") and not isinstance(value, bool):
        return value.__index__()
    raise TypeError(f"{what}: expected an int or a symbolic integer, got {type(value).__name__}")


def _binary_top(op, a, b, what):
    a = _sym_or_int(a, what)
    b = _sym_or_int(b, what)
    cls = ShapeExpr if isinstance(a, ShapeExpr) or isinstance(b, ShapeExpr) else SymInt32
    return _make(op, _as_sym(a), _as_sym(b), cls)


def cdiv(first, second):
    """ceil(first / second) as an expression. ValueError for a constant 0
    divisor (B7)."""
    s = _sym_or_int(second, "cdiv")
    if (_is_int(s) and s == 0) or (isinstance(s, SymIntExpr) and s.is_constant
                                   and s.constant_value() == 0):
        raise ValueError("trtp.cdiv: division by zero")
    return _binary_top(_lib.SYM_OP_CEIL_DIV, first, s, "cdiv")


def max(first, second):  # noqa: A001 - the tensorrt.plugin name
    """The larger of two symbolic integers (or ints)."""
    return _binary_top(_lib.SYM_OP_MAX, first, second, "max")


def min(first, second):  # noqa: A001 - the tensorrt.plugin name
    """The smaller of two symbolic integers (or ints)."""
    return _binary_top(_lib.SYM_OP_MIN, first, second, "min")


#===----------------------------------------------------------------------===#
# Containers
#===----------------------------------------------------------------------===#


class SymExprs:
    """A fixed-length list of symbolic expressions (extra kernel arguments).

    Plain ints are accepted and become SymInt32 (B2 fixed)."""

    _item_type = SymInt32

    def __init__(self, length: int = 0):
        if not _is_int(length) or length < 0:
            raise ValueError(f"{type(self).__name__}: length must be an int >= 0, got {length!r}")
        self._items = [None] * length

    @classmethod
    def from_tuple(cls, values: Iterable):
        values = list(values)
        out = cls(len(values))
        for i, v in enumerate(values):
            out[i] = v
        return out

    def _convert(self, value):
        if isinstance(value, SymIntExpr):
            return value if isinstance(value, self._item_type) else self._item_type(value)
        if _is_int(value) or (hasattr(value, "__index__") and not isinstance(value, bool)):
            return self._item_type(value.__index__())
        raise TypeError(
            f"{type(self).__name__} holds symbolic integers or ints, not {type(value).__name__}")

    def __setitem__(self, index, value):
        self._items[index] = self._convert(value)

    def __getitem__(self, index):
        return self._items[index]

    def __len__(self):
        return len(self._items)

    def __iter__(self):
        return iter(self._items)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(str(x) for x in self._items)})"


class SymIntExprs(SymExprs):
    """A fixed-length list of SymInt32 (plain ints accepted)."""


class ShapeExprs(SymExprs):
    """The dimensions of a tensor: a list of ShapeExpr. ``numel()`` is their
    product."""

    _item_type = ShapeExpr

    def __init__(self, length: int = 0, _read_only: bool = False):
        if _is_int(length) and length > _lib.KILN_MAX_RANK:
            raise ValueError(f"ShapeExprs: at most {_lib.KILN_MAX_RANK} dimensions, got {length}")
        super().__init__(length)
        self._read_only = _read_only

    @classmethod
    def from_tuple(cls, values):
        values = list(values)
        out = cls(len(values))
        for i, v in enumerate(values):
            out[i] = v
        return out

    def __setitem__(self, index, value):
        if getattr(self, "_read_only", False):
            raise ValueError(
                "the shape of an input tensor cannot be changed; make an output with "
                "like() and change that")
        self._items[index] = self._convert(value)

    def numel(self) -> ShapeExpr:
        result = ShapeExpr(1)
        for d in self._items:
            if d is None:
                raise ValueError("ShapeExprs.numel(): a dimension is not set")
            result = result * d
        return result

    def _copy(self) -> "ShapeExprs":
        out = ShapeExprs(len(self._items))
        out._items = list(self._items)
        return out


class KernelLaunchParams:
    """Grid and block sizes and dynamic shared memory of a kernel launch, as
    symbolic integers (ints accepted)."""

    _FIELDS = ("grid_x", "grid_y", "grid_z", "block_x", "block_y", "block_z", "shared_mem")

    def __init__(self, grid_x=1, grid_y=1, grid_z=1, block_x=1, block_y=1, block_z=1,
                 shared_mem=0):
        object.__setattr__(self, "_values", {})
        for name, value in zip(self._FIELDS,
                               (grid_x, grid_y, grid_z, block_x, block_y, block_z, shared_mem)):
            setattr(self, name, value)

    def __setattr__(self, name, value):
        if name not in self._FIELDS:
            raise AttributeError(
                f"KernelLaunchParams has no attribute '{name}' (it has {', '.join(self._FIELDS)})")
        self._values[name] = SymInt32(_sym_or_int(value, f"KernelLaunchParams.{name}"))

    def __getattr__(self, name):
        values = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        raise AttributeError(name)

    def __repr__(self):
        return "KernelLaunchParams(" + ", ".join(
            f"{k}={self._values[k]}" for k in self._FIELDS) + ")"
