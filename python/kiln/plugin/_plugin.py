"""register / aot_impl / autotune / op: Python plugin definitions that become
C ``kiln_plugin_def_t`` registrations with ctypes callbacks.

Each decorated function is validated as TensorRT validates it (parameter
names and order, annotations, exact attribute types); messages name the
plugin, the function and the parameter. The C registration happens when the
plugin is first used (``trtp.op.ns.name(...)``), after all of its decorators
have run, so the attribute subset each callback declares is the subset the C
core hands it.
"""

from __future__ import annotations

import ctypes
import difflib
import inspect
import logging
import sys
import threading
import traceback
import types
import typing
from typing import Any, Callable

from .. import _lib
from .._dtypes import DataType, TensorFormat
from .._lib import lib
from . import _sym
from ._sym import KernelLaunchParams, ShapeExpr, SymExprs, SymIntExpr, SymInt32
from ._tensor import AutoTuneCombination, Tensor, TensorDesc, _bind_size_tensors

__all__ = ["register", "aot_impl", "autotune", "impl", "op", "PluginDef"]

_log = logging.getLogger("kiln.plugin")

_RESERVED_ATTR_NAMES = ("outputs", "stream", "tactic")


class PluginNotFoundError(_lib.NotFoundError, ValueError):
    """No plugin with that id is registered (a LookupError and a ValueError)."""


#===----------------------------------------------------------------------===#
# The process-wide C registry
#===----------------------------------------------------------------------===#

_registry_lock = threading.RLock()
_registry_ptr: int | None = None
_PLUGINS: dict[str, "PluginDef"] = {}  # id -> definition
_BY_KEY: dict[int, "PluginDef"] = {}   # user_data -> definition


def registry() -> int:
    """The process-wide kiln_registry_t* that Python plugins live in."""
    global _registry_ptr
    with _registry_lock:
        if _registry_ptr is None:
            out = ctypes.c_void_p()
            _lib.check(lib.kiln_registry_create(_lib.ALLOCATOR, None, ctypes.byref(out)))
            _registry_ptr = out.value
        return _registry_ptr


def _closest(plugin_id: str) -> str:
    close = difflib.get_close_matches(plugin_id, list(_PLUGINS), n=3, cutoff=0.5)
    if close:
        return "; closest: " + ", ".join(f"'{c}'" for c in close)
    if _PLUGINS:
        return "; registered: " + ", ".join(f"'{c}'" for c in sorted(_PLUGINS))
    return "; none is registered"


def _lookup(plugin_id: str, who: str) -> "PluginDef":
    if not isinstance(plugin_id, str):
        raise TypeError(f"{who}: plugin_id must be a str 'namespace::name', got "
                        f"{type(plugin_id).__name__}")
    pdef = _PLUGINS.get(plugin_id)
    if pdef is None:
        raise PluginNotFoundError(
            f"{who}('{plugin_id}'): no plugin '{plugin_id}' is registered with "
            f"trtp.register{_closest(plugin_id)}")
    return pdef


#===----------------------------------------------------------------------===#
# Annotations and attribute types
#===----------------------------------------------------------------------===#

_SCALAR_ATTR_TYPES = {int: 0, float: 1, bool: 2, str: 3, bytes: 4}
_ARRAY_ATTR_TYPES = {  # numpy dtype name -> kiln_attr_type_t
    "int8": 5, "int16": 6, "int32": 7, "int64": 8, "float16": 9, "float32": 10,
    "float64": 11, "bool": 12,
}


class _AttrSpec:
    __slots__ = ("name", "annotation", "kiln_type", "np_dtype", "default", "declared_by")

    def __init__(self, name, annotation, kiln_type, np_dtype=None):
        self.name = name
        self.annotation = annotation
        self.kiln_type = kiln_type  # None: bare ndarray, decided at first call (lazy)
        self.np_dtype = np_dtype
        # Attributes that trtp.register does not declare but an aot_impl,
        # impl or autotune function does (kiln extends the schema with them):
        # |declared_by| names that function, |default| is its default value
        # (inspect.Parameter.empty when it has none: the layer must give it).
        self.default = inspect.Parameter.empty
        self.declared_by: str | None = None

    @property
    def registered(self) -> bool:
        return self.declared_by is None

    def describe(self) -> str:
        if self.np_dtype is not None:
            return f"NDArray[{self.np_dtype}]"
        if self.kiln_type is None:
            return "numpy.ndarray"
        return self.annotation.__name__


def _ndarray_dtype(annotation):
    """The numpy dtype name of an NDArray[dtype] annotation; "" for a bare
    np.ndarray; None when |annotation| is not a numpy array type."""
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is optional
        return None
    if annotation is np.ndarray:
        return ""
    origin = typing.get_origin(annotation)
    # numpy >= 2.5 spells NDArray as a PEP 695 alias: NDArray[np.int32] has the
    # alias as its origin and the scalar type as its only argument.
    alias_value = getattr(origin if origin is not None else annotation, "__value__", None)
    if alias_value is not None and typing.get_origin(alias_value) is np.ndarray:
        if origin is None:
            return ""  # bare NDArray
        args = typing.get_args(annotation)
        try:
            return np.dtype(args[0]).name if len(args) == 1 else ""
        except TypeError:
            return ""
    if origin is not np.ndarray:
        return None
    args = typing.get_args(annotation)
    if len(args) != 2:
        return ""
    inner = typing.get_args(args[1])
    if not inner:
        return ""
    try:
        return np.dtype(inner[0]).name
    except TypeError:
        return ""


def _attr_spec(where: str, name: str, annotation, lazy: bool) -> _AttrSpec:
    if annotation in _SCALAR_ATTR_TYPES:
        return _AttrSpec(name, annotation, _SCALAR_ATTR_TYPES[annotation])
    dt = _ndarray_dtype(annotation)
    if dt is not None:
        if dt == "":
            if not lazy:
                raise TypeError(
                    f"{where}: attribute '{name}': a bare numpy.ndarray annotation needs "
                    "lazy_register=True; annotate it as numpy.typing.NDArray[numpy.int32] (or "
                    "another dtype)")
            return _AttrSpec(name, annotation, None)
        if dt not in _ARRAY_ATTR_TYPES:
            raise TypeError(f"{where}: attribute '{name}': NDArray dtype {dt} is not supported "
                            f"(supported: {', '.join(_ARRAY_ATTR_TYPES)})")
        return _AttrSpec(name, annotation, _ARRAY_ATTR_TYPES[dt], dt)
    raise TypeError(
        f"{where}: attribute '{name}' has annotation {_type_name(annotation)}; supported are "
        "int, float, bool, str, bytes and numpy.typing.NDArray[dtype] (lists and tuples are not)")


def _same_value(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if hasattr(a, "dtype") and hasattr(a, "shape"):  # numpy arrays
        return a.dtype == b.dtype and a.shape == b.shape and bool((a == b).all())
    return a == b


def _type_name(annotation) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return repr(annotation)


def _hints(func, where: str) -> dict:
    try:
        return typing.get_type_hints(func)
    except Exception:
        # Unresolvable string annotations: fall back to what is there.
        return dict(getattr(func, "__annotations__", {}))


def _is_tensor_desc_type(annotation) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, TensorDesc)


def _tuple_args(annotation):
    """(args) of Tuple[...]/tuple[...], or None when not a tuple type."""
    if typing.get_origin(annotation) is tuple:
        return typing.get_args(annotation)
    return None


def _is_union_of_str_bytes(annotation) -> bool:
    if annotation in (str, bytes):
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Union or (hasattr(types, "UnionType") and origin is types.UnionType):
        return set(typing.get_args(annotation)) <= {str, bytes}
    return False


def _params(func, where: str) -> list[inspect.Parameter]:
    if not callable(func):
        raise TypeError(f"{where}: expected a function, got {type(func).__name__}")
    params = list(inspect.signature(func).parameters.values())
    for p in params:
        if p.kind not in (inspect.Parameter.POSITIONAL_OR_KEYWORD,
                          inspect.Parameter.KEYWORD_ONLY):
            raise TypeError(f"{where}: parameter '{p.name}': *args, **kwargs and positional-only "
                            "parameters are not allowed")
    return params


#===----------------------------------------------------------------------===#
# Plugin definitions
#===----------------------------------------------------------------------===#


class PluginDef:
    """One registered plugin: its schema and its Python functions. Reachable as
    ``trtp.op.<namespace>.<name>``; calling it makes a layer request for
    ``network.add_plugin``."""

    def __init__(self, plugin_id: str, func: Callable, lazy: bool):
        self.plugin_id = plugin_id
        self.namespace, self.name = plugin_id.split("::", 1)
        self.register_func = func
        self.lazy = lazy
        self.input_names: list[str] = []
        self.attrs: list[_AttrSpec] = []
        self.num_outputs = 1
        self.aot_impl_func: Callable | None = None
        self.aot_impl_attrs: list[str] = []
        self.aot_impl_expects_tactic = False
        self.autotune_func: Callable | None = None
        self.autotune_attrs: list[str] = []
        self.impl_func: Callable | None = None
        self.impl_attrs: list[str] = []
        self.impl_expects_tactic = False
        self._c_plugin: int | None = None
        self._key = 0
        self._last_new_attrs: list[_AttrSpec] = []
        self._validate_register()

    # -- validation -------------------------------------------------------------

    def _where(self, kind: str, func: Callable | None = None) -> str:
        func = func or self.register_func
        fname = getattr(func, "__qualname__", getattr(func, "__name__", repr(func)))
        return f"trtp.{kind}('{self.plugin_id}'): function '{fname}'"

    def _validate_register(self):
        where = self._where("register")
        func = self.register_func
        params = _params(func, where)
        hints = _hints(func, where)
        if not params:
            raise ValueError(f"{where}: needs at least one TensorDesc parameter")
        seen_attr = False
        for i, p in enumerate(params):
            if p.default is not inspect.Parameter.empty:
                raise ValueError(f"{where}: parameter '{p.name}': default values are not allowed")
            if p.name not in hints:
                raise TypeError(f"{where}: parameter '{p.name}' needs a type annotation "
                                "(trtp.TensorDesc for a tensor, int/float/bool/str/bytes/"
                                "NDArray for an attribute)")
            annotation = hints[p.name]
            if _is_tensor_desc_type(annotation):
                if seen_attr:
                    raise ValueError(f"{where}: parameter '{p.name}': tensor inputs must come "
                                     "before every attribute")
                self.input_names.append(p.name)
                continue
            if i == 0:
                raise ValueError(f"{where}: the first parameter '{p.name}' must be a "
                                 "trtp.TensorDesc input")
            if p.name in _RESERVED_ATTR_NAMES:
                raise ValueError(f"{where}: parameter '{p.name}': the names "
                                 f"{', '.join(_RESERVED_ATTR_NAMES)} are reserved")
            seen_attr = True
            self.attrs.append(_attr_spec(f"{where}", p.name, annotation, self.lazy))
        if "return" not in hints:
            raise TypeError(f"{where}: needs a return annotation: trtp.TensorDesc or "
                            "Tuple[trtp.TensorDesc, ...] with one entry per output")
        ret = hints["return"]
        if _is_tensor_desc_type(ret):
            self.num_outputs = 1
        else:
            args = _tuple_args(ret)
            if not args or any(a is Ellipsis for a in args) or not all(
                    _is_tensor_desc_type(a) for a in args):
                raise TypeError(f"{where}: return annotation {_type_name(ret)} must be "
                                "trtp.TensorDesc or a fixed-length Tuple[trtp.TensorDesc, ...]")
            self.num_outputs = len(args)

    def _attr(self, name: str) -> _AttrSpec | None:
        for a in self.attrs:
            if a.name == name:
                return a
        return None

    @property
    def register_attr_names(self) -> list[str]:
        """The attributes trtp.register declares (what its function receives);
        ``attrs`` also holds those that other functions added."""
        return [a.name for a in self.attrs if a.registered]

    def _check_not_frozen(self, kind: str):
        if self._c_plugin is not None:
            raise RuntimeError(
                f"trtp.{kind}('{self.plugin_id}'): the plugin has been used already (its "
                f"definition is registered with the C core); define its {kind} before the "
                "first trtp.op call")

    def _validate_impl_params(self, kind: str, func: Callable, tail: list[str],
                              optional_tail: list[str], input_type: type = TensorDesc
                              ) -> list[str]:
        """Checks (inputs…, attr subset…, *tail[, *optional_tail]); returns the
        attribute subset."""
        where = self._where(kind, func)
        params = _params(func, where)
        hints = _hints(func, where)
        names = [p.name for p in params]
        n_in = len(self.input_names)
        expected_head = self.input_names
        if names[:n_in] != expected_head:
            raise ValueError(
                f"{where}: the first parameters must be the inputs "
                f"({', '.join(expected_head)}) as named in trtp.register, got "
                f"({', '.join(names[:n_in])})")
        rest = names[n_in:]
        # Strip the tail (outputs[, tactic]).
        n_opt = 0
        for opt in reversed(optional_tail):
            if rest and rest[-1] == opt:
                n_opt += 1
                rest = rest[:-1]
        if rest[len(rest) - len(tail):] != tail or len(rest) < len(tail):
            expected = ", ".join(expected_head + ["<attributes>"] + tail +
                                 [f"[{o}]" for o in optional_tail])
            raise ValueError(f"{where}: parameters must be ({expected}), got ({', '.join(names)})")
        attr_names = rest[:len(rest) - len(tail)]
        order = self.register_attr_names
        by_name = {p.name: p for p in params}
        new_specs: list[_AttrSpec] = []
        last = -1
        for name in attr_names:
            if name in order:
                idx = order.index(name)
                if idx <= last:
                    raise ValueError(f"{where}: parameter '{name}': attributes must keep the "
                                     f"order of trtp.register ({', '.join(order)})")
                last = idx
                continue
            # Not declared by trtp.register: an annotated parameter extends
            # the plugin's attributes (the seed's `single_tactic: bool`).
            p = by_name[name]
            if name in _RESERVED_ATTR_NAMES:
                raise ValueError(f"{where}: parameter '{name}': the names "
                                 f"{', '.join(_RESERVED_ATTR_NAMES)} are reserved and cannot be "
                                 "attributes")
            earlier = self._attr(name)  # declared by an earlier function?
            if name not in hints and earlier is not None:
                hints = dict(hints, **{name: earlier.annotation})
            if name not in hints:
                known = [a.name for a in self.attrs]
                raise ValueError(
                    f"{where}: parameter '{name}' is not an attribute of the plugin (its "
                    f"attributes: {', '.join(known) or 'none'}); annotate it with an attribute "
                    "type (int, float, bool, str, bytes or NDArray[dtype]) to add it as a new "
                    "attribute, which the layer then gives")
            spec = self._extension_attr(where, p, hints[name])
            if spec is not None:
                new_specs.append(spec)
        extension = {n for n in attr_names if n not in order}
        # Defaults: only on those new attributes, and (as Python's syntax then
        # requires) on outputs/stream/tactic after one; kiln always passes
        # these.
        tail_names = set(names[n_in + len(attr_names):])
        defaulted = False
        for p in params:
            has_default = p.default is not inspect.Parameter.empty
            if has_default and not (p.name in extension
                                    or (defaulted and p.name in tail_names)):
                raise ValueError(f"{where}: parameter '{p.name}': default values are not allowed"
                                 " (only for an attribute that trtp.register does not declare)")
            defaulted = defaulted or (has_default and p.name in extension)
        # Annotations are optional; when given they must agree.
        for p in params:
            if p.name not in hints or p.name in extension:
                continue
            a = hints[p.name]
            if p.name in self.input_names and not (isinstance(a, type)
                                                   and issubclass(a, input_type)):
                raise TypeError(f"{where}: parameter '{p.name}' is an input: annotate it "
                                f"trtp.{input_type.__name__}, not {_type_name(a)}")
            spec = self._attr(p.name)
            if p.name in attr_names and spec is not None and a != spec.annotation:
                raise TypeError(f"{where}: parameter '{p.name}' is annotated {_type_name(a)} but "
                                f"trtp.register declares {_type_name(spec.annotation)}")
            if p.name in ("tactic", "stream") and a is not int:
                raise TypeError(f"{where}: parameter '{p.name}' must be an int, not "
                                f"{_type_name(a)}")
        self._last_has_optional = n_opt > 0
        self._last_new_attrs = new_specs
        return attr_names

    def _extension_attr(self, where: str, p: inspect.Parameter, annotation
                        ) -> _AttrSpec | None:
        """Checks parameter |p| (annotated |annotation|), an attribute that
        trtp.register does not declare. Returns a new spec, or None when an
        earlier function declared it already (with which it must agree)."""
        spec = _attr_spec(where, p.name, annotation, self.lazy)
        spec.declared_by = where
        if p.default is not inspect.Parameter.empty:
            spec.default = self._check_attr_value(f"{where}: the default of parameter "
                                                  f"'{p.name}'", spec, p.default)
        old = self._attr(p.name)
        if old is None:
            return spec
        if old.annotation != annotation:
            raise TypeError(f"{where}: parameter '{p.name}' is annotated {_type_name(annotation)}"
                            f", but {old.declared_by} declares it {_type_name(old.annotation)}")
        if (spec.default is not inspect.Parameter.empty
                and old.default is not inspect.Parameter.empty
                and not _same_value(spec.default, old.default)):
            raise ValueError(f"{where}: parameter '{p.name}' defaults to {spec.default!r}, but "
                             f"{old.declared_by} gives it the default {old.default!r}")
        if old.default is inspect.Parameter.empty and spec.default is not inspect.Parameter.empty:
            old.default = spec.default
        return None

    def _add_new_attrs(self, kind: str, func: Callable):
        """Adds the attributes the last validated function declared beyond
        trtp.register's to the schema, with a warning through kiln's logger."""
        fname = getattr(func, "__qualname__", getattr(func, "__name__", repr(func)))
        for spec in self._last_new_attrs:
            self.attrs.append(spec)
            how = (f"defaults to {spec.default!r} when the layer does not give it"
                   if spec.default is not inspect.Parameter.empty else
                   "the layer must give it")
            _log.warning(
                "plugin '%s': trtp.%s function '%s' declares parameter '%s: %s', which "
                "trtp.register does not declare; kiln adds it to the plugin's attributes (%s: "
                "trtp.op.%s.%s(..., %s=...))", self.plugin_id, kind, fname, spec.name,
                spec.describe(), how, self.namespace, self.name, spec.name)
        self._last_new_attrs = []

    def _set_aot_impl(self, func: Callable):
        self._check_not_frozen("aot_impl")
        where = self._where("aot_impl", func)
        if self.aot_impl_func is not None:
            raise ValueError(f"{where}: plugin '{self.plugin_id}' already has an aot_impl")
        attrs = self._validate_impl_params("aot_impl", func, ["outputs"], ["tactic"])
        hints = _hints(func, where)
        if "return" in hints:
            ret = hints["return"]
            args = _tuple_args(ret)
            ok = (args is not None and len(args) == 4 and _is_union_of_str_bytes(args[0])
                  and _is_union_of_str_bytes(args[1])
                  and isinstance(args[2], type) and issubclass(args[2], KernelLaunchParams)
                  and isinstance(args[3], type) and issubclass(args[3], SymExprs))
            if not ok:
                raise TypeError(
                    f"{where}: return annotation {_type_name(ret)} must be Tuple[Union[str, "
                    "bytes], Union[str, bytes], trtp.KernelLaunchParams, trtp.SymExprs]")
        self._add_new_attrs("aot_impl", func)
        self.aot_impl_func = func
        self.aot_impl_attrs = attrs
        self.aot_impl_expects_tactic = self._last_has_optional

    def _set_impl(self, func: Callable):
        self._check_not_frozen("impl")
        where = self._where("impl", func)
        if self.impl_func is not None:
            raise ValueError(f"{where}: plugin '{self.plugin_id}' already has an impl")
        attrs = self._validate_impl_params("impl", func, ["outputs", "stream"], ["tactic"],
                                           input_type=Tensor)
        hints = _hints(func, where)
        if "return" in hints and hints["return"] is not type(None):
            raise TypeError(f"{where}: the return annotation must be None or absent (an impl "
                            f"writes its outputs), got {_type_name(hints['return'])}")
        self._add_new_attrs("impl", func)
        self.impl_func = func
        self.impl_attrs = attrs
        self.impl_expects_tactic = self._last_has_optional

    def _set_autotune(self, func: Callable):
        self._check_not_frozen("autotune")
        where = self._where("autotune", func)
        if self.autotune_func is not None:
            raise ValueError(f"{where}: plugin '{self.plugin_id}' already has an autotune")
        attrs = self._validate_impl_params("autotune", func, ["outputs"], [])
        self._add_new_attrs("autotune", func)
        self.autotune_func = func
        self.autotune_attrs = attrs

    # -- the C registration -------------------------------------------------------

    def _c_register(self) -> int:
        """Registers this definition with the C core (once); returns the
        kiln_plugin_t*."""
        with _registry_lock:
            if self._c_plugin is not None:
                return self._c_plugin
            for a in self.attrs:
                if a.kiln_type is None:
                    raise TypeError(f"trtp.register('{self.plugin_id}'): attribute '{a.name}' "
                                    "type is not known yet (lazy registration)")
            key = max(_BY_KEY, default=0) + 1
            fields = (_lib.AttrField * max(1, len(self.attrs)))(
                *[_lib.AttrField(a.name.encode(), a.kiln_type) for a in self.attrs])
            keep = []

            def subset(names):
                arr = (ctypes.c_char_p * max(1, len(names)))(*[n.encode() for n in names])
                keep.append(arr)
                return _lib.AttrSubset(arr, len(names))

            d = _lib.PluginDef()
            d.abi_version = _lib.KILN_PLUGIN_ABI_VERSION
            d.id = self.plugin_id.encode()
            d.version = None
            d.input_count = len(self.input_names)
            d.output_count = self.num_outputs
            d.attrs = fields
            d.attr_count = len(self.attrs)
            d.user_data = key
            d.describe = _describe_cb
            d.describe_attrs = subset(self.register_attr_names)
            if self.autotune_func is not None:
                d.autotune = _autotune_cb
                d.autotune_attrs = subset(self.autotune_attrs)
            if self.aot_impl_func is not None:
                d.aot_impl = _aot_impl_cb
                d.aot_impl_attrs = subset(self.aot_impl_attrs)
            if self.impl_func is not None:
                d.host_impl = _host_impl_cb
                d.host_impl_attrs = subset(self.impl_attrs)
            out = ctypes.c_void_p()
            _lib.check(lib.kiln_registry_register(registry(), ctypes.byref(d), ctypes.byref(out)))
            _BY_KEY[key] = self
            self._key = key
            self._c_plugin = out.value
            return self._c_plugin

    # -- calling: trtp.op.ns.name(*tensors, **attrs) ------------------------------

    def __call__(self, *args, **kwargs):
        where = f"trtp.op.{self.namespace}.{self.name}"
        n_in = len(self.input_names)
        if len(args) != n_in:
            raise ValueError(f"{where}: takes {n_in} input tensor(s) "
                             f"({', '.join(self.input_names)}) positionally, got {len(args)}")
        from .._network import ITensor
        for name, t in zip(self.input_names, args):
            if not isinstance(t, ITensor):
                raise TypeError(f"{where}: input '{name}' must be a network tensor (ITensor), "
                                f"got {type(t).__name__}")
        declared = [a.name for a in self.attrs]
        given = list(kwargs)
        expected = [a.name for a in self.attrs
                    if a.name in kwargs or a.default is inspect.Parameter.empty]
        if given != expected:
            missing = [n for n in expected if n not in kwargs]
            unknown = [n for n in given if n not in declared]
            detail = []
            if missing:
                detail.append(f"missing {', '.join(missing)}")
                for n in missing:
                    spec = self._attr(n)
                    if not spec.registered:
                        detail.append(f"'{n}' is declared by {spec.declared_by}, not by "
                                      "trtp.register")
            if unknown:
                detail.append(f"unknown {', '.join(unknown)}")
            if not detail:
                detail.append("keep the declared order")
            raise ValueError(f"{where}: attributes must be given as keywords "
                             f"({', '.join(declared) or 'none'}): {'; '.join(detail)}")
        values = {}
        for spec in self.attrs:
            if spec.name in kwargs:
                values[spec.name] = self._check_attr_value(where, spec, kwargs[spec.name])
            else:
                values[spec.name] = spec.default
        self._c_register()
        return PluginCall(self, list(args), values)

    def _check_attr_value(self, where, spec: _AttrSpec, value):
        if spec.np_dtype is None and spec.kiln_type is not None:
            if type(value) is not spec.annotation:
                raise TypeError(
                    f"{where}: attribute '{spec.name}' must be {spec.annotation.__name__}, got "
                    f"{type(value).__name__} {value!r} (types are checked exactly, as TensorRT "
                    "does)")
            return value
        import numpy as np
        if not isinstance(value, np.ndarray):
            raise TypeError(f"{where}: attribute '{spec.name}' must be a numpy array "
                            f"({spec.describe()}), got {type(value).__name__}")
        if value.ndim != 1:
            raise ValueError(f"{where}: attribute '{spec.name}' must be a 1-D array, got "
                             f"{value.ndim}-D")
        if spec.kiln_type is None:  # lazy: the first call fixes the dtype
            if value.dtype.name not in _ARRAY_ATTR_TYPES:
                raise TypeError(f"{where}: attribute '{spec.name}': dtype {value.dtype} is not "
                                "supported")
            spec.np_dtype = value.dtype.name
            spec.kiln_type = _ARRAY_ATTR_TYPES[spec.np_dtype]
        if value.dtype.name != spec.np_dtype:
            raise TypeError(f"{where}: attribute '{spec.name}' must have dtype {spec.np_dtype}, "
                            f"got {value.dtype}")
        return value

    def __repr__(self):
        return f"<trtp plugin {self.plugin_id}>"


class PluginCall:
    """A request to add a plugin layer: what ``trtp.op.ns.name(...)`` returns
    and ``network.add_plugin`` takes."""

    def __init__(self, plugin: PluginDef, inputs: list, attrs: dict):
        self.plugin = plugin
        self.inputs = inputs
        self.attrs = attrs

    def _make_c_attrs(self) -> int:
        """A new kiln_attrs_t* holding the values (the caller destroys it)."""
        out = ctypes.c_void_p()
        _lib.check(lib.kiln_attrs_create(self.plugin._c_register(), _lib.ALLOCATOR,
                                         ctypes.byref(out)))
        attrs = out.value
        try:
            for spec in self.plugin.attrs:
                v = self.attrs[spec.name]
                n = spec.name.encode()
                t = spec.kiln_type
                if t == 0:
                    _lib.check(lib.kiln_attrs_set_int64(attrs, n, v))
                elif t == 1:
                    _lib.check(lib.kiln_attrs_set_float64(attrs, n, v))
                elif t == 2:
                    _lib.check(lib.kiln_attrs_set_bool(attrs, n, v))
                elif t == 3:
                    data = v.encode("utf-8")
                    _lib.check(lib.kiln_attrs_set_string(attrs, n, _lib.string_view(data)))
                elif t == 4:
                    _lib.check(lib.kiln_attrs_set_bytes(attrs, n, _lib.const_bytes(v)))
                else:
                    import numpy as np
                    arr = np.ascontiguousarray(v)
                    if spec.np_dtype == "bool":
                        arr = arr.astype(np.uint8)
                    _lib.check(lib.kiln_attrs_set_array(attrs, n, t, arr.ctypes.data, arr.size))
            return attrs
        except BaseException:
            lib.kiln_attrs_destroy(attrs)
            raise


#===----------------------------------------------------------------------===#
# Decorators and the op namespace
#===----------------------------------------------------------------------===#


class _Namespace:
    def __init__(self, name):
        self._name = name
        self._plugins = {}

    def __getattr__(self, name):
        try:
            return self._plugins[name]
        except KeyError:
            raise AttributeError(
                f"trtp.op.{self._name} has no plugin '{name}'"
                f"{_closest(self._name + '::' + name)}") from None

    def __dir__(self):
        return list(self._plugins)


class _Op:
    """``trtp.op.<namespace>.<name>``: the registered plugins."""

    def __init__(self):
        self._namespaces = {}

    def __getattr__(self, ns):
        if ns.startswith("__"):
            raise AttributeError(ns)
        try:
            return self._namespaces[ns]
        except KeyError:
            raise AttributeError(f"trtp.op has no namespace '{ns}' (namespaces: "
                                 f"{', '.join(sorted(self._namespaces)) or 'none'})") from None

    def __dir__(self):
        return list(self._namespaces)


op = _Op()


def _validate_id(plugin_id, who: str):
    if not isinstance(plugin_id, str):
        raise TypeError(f"{who}: plugin_id must be a str 'namespace::name', got "
                        f"{type(plugin_id).__name__}")
    data = plugin_id.encode()
    err = _lib.take_status(lib.kiln_plugin_id_validate(_lib.string_view(data)))
    if err is not None:
        raise type(err)(f"{who}('{plugin_id}'): {err.message}")


def register(plugin_id: str, lazy_register: bool = False) -> Callable:
    """Registers a plugin: the decorated function describes its outputs.

    ``(inp0: TensorDesc, ..., attr0: int, ...) -> TensorDesc | Tuple[TensorDesc, ...]``
    """
    _validate_id(plugin_id, "trtp.register")

    def decorator(func):
        with _registry_lock:
            if plugin_id in _PLUGINS:
                raise _lib.AlreadyExistsError(
                    f"trtp.register('{plugin_id}'): plugin '{plugin_id}' already has a "
                    "definition")
            pdef = PluginDef(plugin_id, func, bool(lazy_register))
            _PLUGINS[plugin_id] = pdef
            ns = op._namespaces.setdefault(pdef.namespace, _Namespace(pdef.namespace))
            ns._plugins[pdef.name] = pdef
        return func

    return decorator


def aot_impl(plugin_id: str) -> Callable:
    """Defines the ahead-of-time implementation of a registered plugin:

    ``(inputs..., attribute subset..., outputs: Tuple[TensorDesc], tactic: int)
    -> Tuple[kernel_name, ptx, KernelLaunchParams, SymExprs]``. ``tactic`` may
    be left out. The function receives exactly the attributes it declares.
    An annotated attribute that ``register`` does not declare is added to the
    plugin's attributes, with a warning (likewise for impl and autotune): the
    layer gives it, or the function's default value is used.
    """
    pdef = _lookup(plugin_id, "trtp.aot_impl")

    def decorator(func):
        pdef._set_aot_impl(func)
        return func

    return decorator


def autotune(plugin_id: str) -> Callable:
    """Defines the supported type/format combinations and tactics:
    ``(inputs..., attribute subset..., outputs) -> List[AutoTuneCombination]``."""
    pdef = _lookup(plugin_id, "trtp.autotune")

    def decorator(func):
        pdef._set_autotune(func)
        return func

    return decorator


def impl(plugin_id: str) -> Callable:
    """Defines the host (JIT) implementation of a registered plugin, called at
    enqueue time with the device tensors:

    ``(inputs: trtp.Tensor..., attribute subset..., outputs: Tuple[trtp.Tensor],
    stream: int[, tactic: int]) -> None``. The tensors expose
    ``__cuda_array_interface__``; ``stream`` is the CUstream handle (0: the
    legacy default stream). Layers added with ``add_plugin(..., aot=False)``
    use it; an engine with such layers needs the plugin defined in the process
    that loads it (Python stays in the loop), unlike an AOT engine.
    """
    pdef = _lookup(plugin_id, "trtp.impl")

    def decorator(func):
        pdef._set_impl(func)
        return func

    return decorator


def register_all() -> int:
    """Registers every plugin with a trtp.impl defined so far with the C
    registry (those not yet used through trtp.op), so that an engine's host
    layers find them at load. Plugins without an impl are left alone (an AOT
    layer needs no plugin at load), as are lazy plugins whose attribute types
    are not known yet. Returns the registry pointer."""
    with _registry_lock:
        for pdef in list(_PLUGINS.values()):
            if (pdef._c_plugin is None and pdef.impl_func is not None
                    and all(a.kiln_type is not None for a in pdef.attrs)):
                pdef._c_register()
        return registry()


#===----------------------------------------------------------------------===#
# Callbacks (C -> Python)
#===----------------------------------------------------------------------===#

_tls = threading.local()


def last_callback_error() -> BaseException | None:
    """The Python exception raised by the last failing plugin callback on this
    thread (kiln reports it as a status; the front-end chains it)."""
    return getattr(_tls, "error", None)


def clear_callback_error():
    _tls.error = None


def _fail(exc: BaseException, pdef: PluginDef | None, kind: str) -> int:
    _tls.error = exc
    _log.debug("plugin %s %s raised:\n%s", pdef.plugin_id if pdef else "?", kind,
               "".join(traceback.format_exception(exc)))
    if isinstance(exc, _lib.KilnError) and exc.code > 0:
        return _lib.make_status(exc.code, exc.message)
    return _lib.make_status(_lib.STATUS_INVALID_ARGUMENT, f"{type(exc).__name__}: {exc}")


def _descs(ptr, count, scope, names, frozen, input_base=True):
    out = []
    for i in range(count):
        c = ptr[i]
        dims = _sym.ShapeExprs(c.rank)
        for k in range(c.rank):
            dims._items[k] = ShapeExpr._wrap(scope, c.dims[k])
        dims._read_only = frozen
        d = TensorDesc(dims, DataType(c.dtype), TensorFormat(c.format))
        d._is_size_tensor = bool(c.is_size_tensor)
        if input_base:
            d._input_index = i
        d._name = names[i] if i < len(names) else None
        if frozen:
            d._freeze()
        out.append(d)
    return out


def _attr_values(pdef: PluginDef, attrs_ptr, names: list[str]) -> list:
    values = []
    for name in names:
        spec = pdef._attr(name)
        n = name.encode()
        t = spec.kiln_type
        if t == 0:
            v = ctypes.c_int64()
            _lib.check(lib.kiln_attrs_get_int64(attrs_ptr, n, ctypes.byref(v)))
            values.append(int(v.value))
        elif t == 1:
            v = ctypes.c_double()
            _lib.check(lib.kiln_attrs_get_float64(attrs_ptr, n, ctypes.byref(v)))
            values.append(float(v.value))
        elif t == 2:
            v = ctypes.c_bool()
            _lib.check(lib.kiln_attrs_get_bool(attrs_ptr, n, ctypes.byref(v)))
            values.append(bool(v.value))
        elif t == 3:
            v = _lib.StringView()
            _lib.check(lib.kiln_attrs_get_string(attrs_ptr, n, ctypes.byref(v)))
            values.append(_lib.view_bytes(v).decode("utf-8"))
        elif t == 4:
            v = _lib.ConstBytes()
            _lib.check(lib.kiln_attrs_get_bytes(attrs_ptr, n, ctypes.byref(v)))
            values.append(_lib.view_bytes(v))
        else:
            import numpy as np
            data = ctypes.c_void_p()
            count = ctypes.c_size_t()
            _lib.check(lib.kiln_attrs_get_array(attrs_ptr, n, t, ctypes.byref(data),
                                                ctypes.byref(count)))
            dt = np.dtype("uint8" if spec.np_dtype == "bool" else spec.np_dtype)
            raw = ctypes.string_at(data.value, count.value * dt.itemsize) if count.value else b""
            arr = np.frombuffer(raw, dtype=dt).copy()
            values.append(arr.astype(bool) if spec.np_dtype == "bool" else arr)
    return values


def _fill_desc(where: str, desc, c, scope):
    if not isinstance(desc, TensorDesc):
        raise TypeError(f"{where}: must be a trtp.TensorDesc, got {type(desc).__name__}")
    if desc.dtype is None:
        raise ValueError(f"{where}: has no dtype")
    rank = len(desc.shape_expr)
    if rank > _lib.KILN_MAX_RANK:
        raise ValueError(f"{where}: rank {rank} exceeds {_lib.KILN_MAX_RANK}")
    c.dtype = int(desc.dtype)
    c.format = int(desc.format)
    c.rank = rank
    for k, d in enumerate(desc.shape_expr):
        if d is None:
            raise ValueError(f"{where}: dimension {k} is not set")
        c.dims[k] = _sym._as_sym(d)._node_in(scope)
    aliased = desc.get_aliased()
    c.aliased_input = aliased._input_index if aliased is not None else -1
    c.is_size_tensor = bool(desc.is_size_tensor)


@_lib.DESCRIBE_FN
def _describe_cb(user_data, args_p, outputs_p):
    pdef = None
    try:
        pdef = _BY_KEY[user_data]
        args = args_p.contents
        with _sym.scope(args.sym, pdef.input_names, "describe") as s:
            inputs = _descs(args.inputs, args.input_count, s, pdef.input_names, True)
            attrs = _attr_values(pdef, args.attrs, pdef.register_attr_names)
            result = pdef.register_func(*inputs, *attrs)
            where = f"trtp.register('{pdef.plugin_id}') function"
            if isinstance(result, TensorDesc):
                result = (result,)
            elif isinstance(result, list):
                result = tuple(result)
            if not isinstance(result, tuple):
                raise TypeError(f"{where} returned {type(result).__name__}; expected "
                                "TensorDesc or a tuple of them")
            if len(result) != args.output_count:
                raise ValueError(f"{where} returned {len(result)} output(s); its return "
                                 f"annotation declares {args.output_count}")
            _bind_size_tensors(where, result)  # size tensors: index = output position
            for i, desc in enumerate(result):
                _fill_desc(f"{where}: output {i}", desc, outputs_p[i], s)
        return None
    except BaseException as e:  # noqa: BLE001 - every error becomes a status
        return _fail(e, pdef, "describe")


@_lib.AUTOTUNE_FN
def _autotune_cb(user_data, args_p, result):
    pdef = None
    try:
        pdef = _BY_KEY[user_data]
        args = args_p.contents
        table = ctypes.c_void_p()
        _lib.check(lib.kiln_sym_table_create(_lib.ALLOCATOR, ctypes.byref(table)))
        try:
            foreign = _sym._Scope(None, pdef.input_names, "autotune inputs")
            with _sym.scope(table.value, pdef.input_names, "autotune"):
                try:
                    inputs = _descs(args.inputs, args.input_count, foreign, pdef.input_names,
                                    True)
                    outputs = _descs(args.outputs, args.output_count, foreign, [], True, False)
                    attrs = _attr_values(pdef, args.attrs, pdef.autotune_attrs)
                    combos = pdef.autotune_func(*inputs, *attrs, tuple(outputs))
                finally:
                    foreign.alive = False
        finally:
            lib.kiln_sym_table_destroy(table.value)
        if isinstance(combos, AutoTuneCombination):
            combos = [combos]
        io_count = args.input_count + args.output_count
        for i, c in enumerate(combos):
            if not isinstance(c, AutoTuneCombination):
                raise TypeError(f"trtp.autotune('{pdef.plugin_id}') function returned "
                                f"{type(c).__name__} at index {i}; expected "
                                "trtp.AutoTuneCombination")
            c._add_to(result, io_count)
        return None
    except BaseException as e:  # noqa: BLE001
        return _fail(e, pdef, "autotune")


# What an AOT result points to, kept until kiln calls release.
_aot_keep: dict[int, list] = {}
_aot_next = [1]


@_lib.AOT_RELEASE_FN
def _aot_release_cb(release_data, result):
    _aot_keep.pop(release_data or 0, None)


def _is_compiled_kernel(obj) -> bool:
    return hasattr(obj, "asm") and hasattr(obj, "metadata") and not isinstance(obj, (str, bytes))


def _kernel_images(where: str, kernel, keep: list, result) -> list:
    images = []
    if _is_compiled_kernel(kernel):
        md = kernel.metadata
        ptx = kernel.asm.get("ptx")
        if ptx is None:
            raise ValueError(f"{where}: the Triton CompiledKernel has no 'ptx' in its asm")
        data = ptx.encode() if isinstance(ptx, str) else bytes(ptx)
        keep.append(data)
        images.append(_lib.KernelImage(_lib.KERNEL_IMAGE_PTX, 0, _lib.const_bytes(data)))
        cubin = kernel.asm.get("cubin")
        target = getattr(md, "target", None)
        arch = getattr(target, "arch", None)
        if cubin and isinstance(arch, int):
            cdata = bytes(cubin)
            keep.append(cdata)
            images.append(_lib.KernelImage(_lib.KERNEL_IMAGE_CUBIN, arch,
                                           _lib.const_bytes(cdata)))
        result.global_scratch_size = int(getattr(md, "global_scratch_size", 0) or 0)
        result.global_scratch_align = int(getattr(md, "global_scratch_align", 0) or 0)
        result.profile_scratch_size = int(getattr(md, "profile_scratch_size", 0) or 0)
        result.profile_scratch_align = int(getattr(md, "profile_scratch_align", 0) or 0)
        result.num_ctas = int(getattr(md, "num_ctas", 1) or 1)
        return images
    if isinstance(kernel, str):
        data = kernel.encode("utf-8")
    elif isinstance(kernel, (bytes, bytearray, memoryview)):
        data = bytes(kernel)
    else:
        raise TypeError(f"{where}: the compiled kernel must be PTX as str or bytes (or a Triton "
                        f"CompiledKernel), got {type(kernel).__name__}")
    if data.startswith(b"\x7fELF"):
        raise ValueError(f"{where}: a cubin needs its architecture; return PTX, or the Triton "
                         "CompiledKernel itself (kiln then embeds its PTX and cubin)")
    keep.append(data)
    images.append(_lib.KernelImage(_lib.KERNEL_IMAGE_PTX, 0, _lib.const_bytes(data)))
    # PTX that kiln.triton.compile made (``compiled.asm["ptx"]``, as the seed
    # returns): its metadata says how much Triton scratch the kernel needs.
    triton_compiler = sys.modules.get("kiln.triton.compiler")
    md = triton_compiler.launch_metadata(data) if triton_compiler is not None else None
    if md:
        result.global_scratch_size = int(md.get("global_scratch_size") or 0)
        result.global_scratch_align = int(md.get("global_scratch_align") or 0)
        result.profile_scratch_size = int(md.get("profile_scratch_size") or 0)
        result.profile_scratch_align = int(md.get("profile_scratch_align") or 0)
        result.num_ctas = int(md.get("num_ctas") or 1)
    return images


@_lib.AOT_IMPL_FN
def _aot_impl_cb(user_data, args_p, out_p):
    pdef = None
    try:
        pdef = _BY_KEY[user_data]
        args = args_p.contents
        out = out_p.contents
        where = f"trtp.aot_impl('{pdef.plugin_id}') function"
        with _sym.scope(args.sym, pdef.input_names, "aot_impl") as s:
            inputs = _descs(args.inputs, args.input_count, s, pdef.input_names, True)
            outputs = _descs(args.outputs, args.output_count, s, [], True, False)
            attrs = _attr_values(pdef, args.attrs, pdef.aot_impl_attrs)
            call = [*inputs, *attrs, tuple(outputs)]
            if pdef.aot_impl_expects_tactic:
                call.append(int(args.tactic))
            ret = pdef.aot_impl_func(*call)
            if not isinstance(ret, tuple) or len(ret) != 4:
                raise TypeError(f"{where} must return (kernel_name, compiled_kernel, "
                                "KernelLaunchParams, SymExprs), got "
                                f"{type(ret).__name__}")
            name, kernel, launch, extra = ret
            keep: list = []
            if isinstance(name, str):
                name_b = name.encode("utf-8")
            elif isinstance(name, (bytes, bytearray)):
                name_b = bytes(name)
            else:
                raise TypeError(f"{where}: kernel_name must be str or bytes, got "
                                f"{type(name).__name__}")
            keep.append(name_b)
            images = _kernel_images(where, kernel, keep, out)
            if not isinstance(launch, KernelLaunchParams):
                raise TypeError(f"{where}: launch params must be trtp.KernelLaunchParams, got "
                                f"{type(launch).__name__}")
            if isinstance(extra, (list, tuple)):
                extra = SymExprs.from_tuple(extra)
            if not isinstance(extra, SymExprs):
                raise TypeError(f"{where}: extra args must be trtp.SymExprs/SymIntExprs, got "
                                f"{type(extra).__name__}")
            c_images = (_lib.KernelImage * len(images))(*images)
            keep.append(c_images)
            extra_items = list(extra)
            c_extra = (_lib.ExtraArg * max(1, len(extra_items)))()
            for i, e in enumerate(extra_items):
                if e is None:
                    raise ValueError(f"{where}: extra arg {i} is not set")
                if not isinstance(e, SymIntExpr):
                    raise TypeError(f"{where}: extra arg {i} must be an int32 (trtp.SymInt32), "
                                    f"got {type(e).__name__}")
                c_extra[i].type = _lib.ARG_TYPE_INT32
                c_extra[i].value = e._node_in(s)
            keep.append(c_extra)
            out.kernel_name = _lib.string_view(name_b)
            out.images = ctypes.cast(c_images, ctypes.POINTER(_lib.KernelImage))
            out.image_count = len(images)
            out.launch.grid[0] = launch.grid_x._node_in(s)
            out.launch.grid[1] = launch.grid_y._node_in(s)
            out.launch.grid[2] = launch.grid_z._node_in(s)
            out.launch.block[0] = launch.block_x._node_in(s)
            out.launch.block[1] = launch.block_y._node_in(s)
            out.launch.block[2] = launch.block_z._node_in(s)
            out.launch.shared_mem = launch.shared_mem._node_in(s)
            out.extra_args = ctypes.cast(c_extra, ctypes.POINTER(_lib.ExtraArg))
            out.extra_arg_count = len(extra_items)
            key = _aot_next[0]
            _aot_next[0] += 1
            _aot_keep[key] = keep
            out.release = _aot_release_cb
            out.release_data = key
        return None
    except BaseException as e:  # noqa: BLE001
        return _fail(e, pdef, "aot_impl")


@_lib.HOST_IMPL_FN
def _host_impl_cb(user_data, args_p):
    pdef = None
    try:
        pdef = _BY_KEY[user_data]
        args = args_p.contents
        stream = int(args.stream or 0)
        inputs = [Tensor._from_c(args.inputs[i], stream) for i in range(args.input_count)]
        outputs = [Tensor._from_c(args.outputs[i], stream) for i in range(args.output_count)]
        # An output written in place over an input shares its address.
        by_ptr = {t.data_ptr: t for t in inputs if t.data_ptr}
        for t in outputs:
            if t.data_ptr in by_ptr:
                t._aliased_to = by_ptr[t.data_ptr]
        attrs = _attr_values(pdef, args.attrs, pdef.impl_attrs)
        call = [*inputs, *attrs, outputs, stream]
        if pdef.impl_expects_tactic:
            call.append(int(args.tactic))
        ret = pdef.impl_func(*call)
        if ret is not None:
            raise TypeError(f"trtp.impl('{pdef.plugin_id}') function returned "
                            f"{type(ret).__name__}; it must return None (write the outputs)")
        return None
    except BaseException as e:  # noqa: BLE001
        return _fail(e, pdef, "impl")
