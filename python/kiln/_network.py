"""Networks, builder configuration and building: TensorRT's INetworkDefinition,
IBuilderConfig, IOptimizationProfile and Builder over kiln's C core."""

from __future__ import annotations

import ctypes
import enum
import logging

from . import _lib
from ._dtypes import DataType, as_dtype
from ._lib import lib

__all__ = [
    "Logger", "Builder", "INetworkDefinition", "ITensor", "ILayer", "IBuilderConfig",
    "IOptimizationProfile", "NetworkDefinitionCreationFlag", "create_network", "inspect",
    "build",
]


class Logger:
    """TensorRT's Logger: kiln's log lines at or above |min_severity| go to
    Python's ``logging`` (logger "kiln")."""

    INTERNAL_ERROR = 0
    ERROR = 1
    WARNING = 2
    INFO = 3
    VERBOSE = 4

    class Severity(enum.IntEnum):
        INTERNAL_ERROR = 0
        ERROR = 1
        WARNING = 2
        INFO = 3
        VERBOSE = 4

    def __init__(self, min_severity: int = WARNING):
        self.min_severity = int(min_severity)

    def _c_logger(self) -> _lib.Logger:
        # kiln levels: ERROR 0, WARNING 1, INFO 2, VERBOSE 3.
        level = {0: 0, 1: 0, 2: 1, 3: 2, 4: 3}.get(self.min_severity, 1)
        if self.min_severity >= Logger.VERBOSE:
            logging.getLogger("kiln").setLevel(logging.DEBUG)
        return _lib.python_logger(level)


class NetworkDefinitionCreationFlag(enum.IntEnum):
    STRONGLY_TYPED = 0
    PREFER_JIT_PYTHON_PLUGINS = 1
    PREFER_AOT_PYTHON_PLUGINS = 2


class ITensor:
    """A tensor of a network: an input or a layer output."""

    def __init__(self, network: "INetworkDefinition", index: int, name: str,
                 dtype: DataType | None, shape: tuple | None, is_input: bool):
        self._network = network
        self._index = index
        self._name = name
        self.dtype = dtype
        self.shape = shape
        self.is_network_input = is_input
        self.is_network_output = False

    @property
    def name(self) -> str:
        return self._name

    @name.setter
    def name(self, value: str):
        if self.is_network_input:
            raise ValueError(f"input '{self._name}' cannot be renamed (kiln fixes input names "
                             "at add_input)")
        if self.is_network_output:
            raise ValueError(f"tensor '{self._name}' is marked as an output already; rename it "
                             "before mark_output")
        self._name = str(value)

    def __repr__(self):
        return f"<ITensor '{self._name}'>"


class ILayer:
    """A plugin layer."""

    def __init__(self, network, index: int, name: str, outputs: list):
        self._network = network
        self._index = index
        self.name = name
        self._outputs = outputs

    @property
    def num_outputs(self) -> int:
        return len(self._outputs)

    def get_output(self, index: int) -> ITensor:
        return self._outputs[index]


class INetworkDefinition:
    """A network: inputs, plugin layers, marked outputs."""

    def __init__(self, flags: int = 0):
        from .plugin._plugin import registry
        out = ctypes.c_void_p()
        _lib.check(lib.kiln_network_create(registry(), _lib.ALLOCATOR, ctypes.byref(out)))
        self._ptr = out.value
        self.flags = flags
        self._inputs: list[ITensor] = []
        self._outputs: list[ITensor] = []
        self._layers: list[ILayer] = []

    def __del__(self):
        ptr, self._ptr = getattr(self, "_ptr", None), None
        if ptr:
            lib.kiln_network_destroy(ptr)

    @property
    def num_inputs(self) -> int:
        return len(self._inputs)

    @property
    def num_outputs(self) -> int:
        return len(self._outputs)

    @property
    def num_layers(self) -> int:
        return len(self._layers)

    def get_input(self, index: int) -> ITensor:
        return self._inputs[index]

    def get_output(self, index: int) -> ITensor:
        return self._outputs[index]

    def add_input(self, name: str, dtype, shape) -> ITensor:
        dt = as_dtype(dtype)
        dims = [int(d) for d in shape]
        arr = (ctypes.c_int64 * max(1, len(dims)))(*dims)
        out = ctypes.c_uint32()
        _lib.check(lib.kiln_network_add_input(self._ptr, name.encode(), int(dt), len(dims), arr,
                                              ctypes.byref(out)))
        t = ITensor(self, out.value, name, dt, tuple(dims), True)
        self._inputs.append(t)
        return t

    def add_plugin(self, plugin, aot: bool | None = None) -> ILayer:
        """Adds a plugin layer from ``trtp.op.ns.name(x, attr=...)``. ``aot=True``
        needs an aot_impl (TensorRT's STRICT_AOT); None lets kiln choose."""
        from .plugin._plugin import PluginCall
        if not isinstance(plugin, PluginCall):
            raise TypeError("add_plugin takes what trtp.op.<ns>.<name>(...) returns, got "
                            f"{type(plugin).__name__}")
        pdef = plugin.plugin
        if aot is True:
            mode = 1
            if pdef.aot_impl_func is None:
                raise ValueError(f"add_plugin(aot=True): plugin '{pdef.plugin_id}' has no "
                                 "trtp.aot_impl")
        elif aot is False:
            mode = 2
        else:
            mode = 0
        for t in plugin.inputs:
            if t._network is not self:
                raise ValueError(f"add_plugin: tensor '{t.name}' belongs to another network")
        attrs = plugin._make_c_attrs()
        try:
            idx = (ctypes.c_uint32 * max(1, len(plugin.inputs)))(*[t._index for t in plugin.inputs])
            layer = ctypes.c_uint32()
            layer_name = f"{pdef.name}_{len(self._layers)}"
            _lib.check(lib.kiln_network_add_plugin(
                self._ptr, layer_name.encode(), pdef.plugin_id.encode(), idx, len(plugin.inputs),
                attrs, mode, ctypes.byref(layer)))
        finally:
            lib.kiln_attrs_destroy(attrs)
        outputs = []
        for i in range(pdef.num_outputs):
            t = ctypes.c_uint32()
            _lib.check(lib.kiln_network_layer_output(self._ptr, layer.value, i, ctypes.byref(t)))
            outputs.append(ITensor(self, t.value, f"{layer_name}_output_{i}", None, None, False))
        result = ILayer(self, layer.value, layer_name, outputs)
        self._layers.append(result)
        return result

    def mark_output(self, tensor: ITensor) -> None:
        if tensor._network is not self:
            raise ValueError(f"mark_output: tensor '{tensor.name}' belongs to another network")
        _lib.check(lib.kiln_network_mark_output(self._ptr, tensor._index, tensor.name.encode()))
        tensor.is_network_output = True
        self._outputs.append(tensor)


class IOptimizationProfile:
    """min/opt/max shapes for the dynamic inputs."""

    def __init__(self):
        self._shapes: dict[str, tuple] = {}

    def set_shape(self, input: str, min, opt, max) -> None:  # noqa: A002 - TensorRT's names
        mn, op, mx = (tuple(int(d) for d in s) for s in (min, opt, max))
        if not len(mn) == len(op) == len(mx):
            raise ValueError(f"set_shape('{input}'): min, opt and max have different ranks")
        self._shapes[input] = (mn, op, mx)

    def get_shape(self, input: str):  # noqa: A002
        return list(self._shapes[input])

    def __bool__(self):
        return True


class IBuilderConfig:
    """Build options: optimization profiles, target architectures, timing."""

    def __init__(self):
        self._profiles: list[IOptimizationProfile] = []
        self.sm_archs: list[int] | None = None  # kiln: cubin targets; None = default
        self.timing = True

    def add_optimization_profile(self, profile: IOptimizationProfile | None = None) -> int:
        """Adds |profile| (or a new empty one, returned through get_profile) and
        returns its index."""
        if profile is None:
            profile = IOptimizationProfile()
        self._profiles.append(profile)
        return len(self._profiles) - 1

    def get_profile(self, index: int) -> IOptimizationProfile:
        return self._profiles[index]

    @property
    def num_optimization_profiles(self) -> int:
        return len(self._profiles)

    def set_flag(self, flag) -> None:
        pass  # TensorRT precision flags have no meaning for kiln

    def _make(self, logger: Logger | None):
        out = ctypes.c_void_p()
        _lib.check(lib.kiln_build_config_create(_lib.ALLOCATOR, ctypes.byref(out)))
        cfg = out.value
        try:
            for prof in self._profiles:
                p = ctypes.c_uint32()
                _lib.check(lib.kiln_build_config_add_profile(cfg, ctypes.byref(p)))
                for name, (mn, op, mx) in prof._shapes.items():
                    r = len(mn)
                    arrs = [(ctypes.c_int64 * max(1, r))(*s) for s in (mn, op, mx)]
                    _lib.check(lib.kiln_build_config_set_shape(cfg, p.value, name.encode(), r,
                                                               *arrs))
            if self.sm_archs is not None:
                archs = (ctypes.c_uint32 * max(1, len(self.sm_archs)))(*self.sm_archs)
                _lib.check(lib.kiln_build_config_set_targets(cfg, archs, len(self.sm_archs)))
            lib.kiln_build_config_set_timing(cfg, bool(self.timing))
            if logger is not None:
                lib.kiln_build_config_set_logger(cfg, logger._c_logger())
            return cfg
        except BaseException:
            lib.kiln_build_config_destroy(cfg)
            raise


class Builder:
    """Makes networks and builds them into serialized engines."""

    def __init__(self, logger: Logger | None = None):
        self.logger = logger

    def create_network(self, flags: int = 0) -> INetworkDefinition:
        return INetworkDefinition(flags)

    def create_builder_config(self) -> IBuilderConfig:
        return IBuilderConfig()

    def create_optimization_profile(self) -> IOptimizationProfile:
        return IOptimizationProfile()

    def build_serialized_network(self, network: INetworkDefinition,
                                 config: IBuilderConfig | None = None) -> bytes:
        """Builds |network| into engine bytes. Raises KilnError (not TensorRT's
        None) naming the layer and plugin at fault; an exception raised by a
        plugin function is chained as the cause."""
        from .plugin._plugin import clear_callback_error, last_callback_error
        config = config or IBuilderConfig()
        cfg = config._make(self.logger)
        try:
            clear_callback_error()
            blob = ctypes.c_void_p()
            err = _lib.take_status(lib.kiln_build(network._ptr, cfg, _lib.ALLOCATOR,
                                                  ctypes.byref(blob)))
            if err is not None:
                cause = last_callback_error()
                clear_callback_error()
                raise err from cause
            return _lib.blob_take(blob.value)
        finally:
            lib.kiln_build_config_destroy(cfg)


def create_network(strongly_typed: bool = True, logger: Logger | None = None):
    """Polygraphy's helper: returns (builder, network)."""
    builder = Builder(logger or Logger())
    return builder, builder.create_network()


def inspect(engine: bytes, json: bool = False) -> str:
    """Verifies serialized engine bytes and describes them (kiln inspect):
    layers, kernels, launch expressions, I/O, profiles. No GPU needed."""
    data = bytes(engine)
    out = ctypes.c_void_p()
    _lib.check(lib.kiln_engine_describe(_lib.const_bytes(data), bool(json), _lib.ALLOCATOR,
                                        ctypes.byref(out)))
    return _lib.blob_take(out.value).decode("utf-8", "replace")


def _as_input_spec(name: str, spec):
    """(dtype, shape) from (dtype, shape) or an example array (numpy, torch,
    cupy: its dtype and shape)."""
    if isinstance(spec, tuple) and len(spec) == 2 and not hasattr(spec, "dtype"):
        return as_dtype(spec[0]), tuple(int(d) for d in spec[1])
    if hasattr(spec, "dtype") and hasattr(spec, "shape"):
        return as_dtype(spec.dtype), tuple(int(d) for d in spec.shape)
    raise TypeError(f"kiln.build: input '{name}' must be (dtype, shape) or an example array, "
                    f"got {type(spec).__name__}")


def build(fn, inputs: dict, profiles=None, aot: bool | None = True, sm_archs=None,
          logger: Logger | None = None) -> bytes:
    """Builds an engine in one call and returns its bytes.

    |inputs| maps each input name to ``(dtype, shape)`` (-1 for a dynamic
    dimension) or to an example array. |fn| receives the network's input
    tensors as keyword arguments and returns what ``trtp.op.ns.name(...)``
    returns (or a network tensor), a tuple of them, or a dict naming the
    outputs; a single output is named "y", a tuple's "y0", "y1", ....
    |profiles| is one dict ``{name: (min, opt, max)}`` or a list of them (one
    per optimization profile); each dynamic input needs a range in each.

        engine = kiln.build(lambda x: trtp.op.my.add_plugin(x, block_size=256),
                            {"x": (kiln.float32, (-1,))},
                            profiles={"x": ((1,), (4096,), (1 << 20,))})
    """
    from .plugin._plugin import PluginCall
    builder = Builder(logger or Logger())
    network = builder.create_network()
    tensors = {}
    for name, spec in inputs.items():
        dtype, shape = _as_input_spec(name, spec)
        tensors[name] = network.add_input(name, dtype, shape)
    result = fn(**tensors)

    def tensors_of(item, where):
        if isinstance(item, PluginCall):
            layer = network.add_plugin(item, aot=aot)
            return [layer.get_output(i) for i in range(layer.num_outputs)]
        if isinstance(item, ILayer):
            return [item.get_output(i) for i in range(item.num_outputs)]
        if isinstance(item, ITensor):
            return [item]
        raise TypeError(f"kiln.build: {where} is a {type(item).__name__}; expected what "
                        "trtp.op.<ns>.<name>(...) returns, a layer or a tensor")

    named = []
    if isinstance(result, dict):
        for name, item in result.items():
            outs = tensors_of(item, f"output '{name}'")
            if len(outs) == 1:
                named.append((name, outs[0]))
            else:
                named.extend((f"{name}{i}", t) for i, t in enumerate(outs))
    else:
        items = list(result) if isinstance(result, (tuple, list)) else [result]
        outs = [t for i, item in enumerate(items) for t in tensors_of(item, f"result {i}")]
        if len(outs) == 1:
            named.append(("y", outs[0]))
        else:
            named.extend((f"y{i}", t) for i, t in enumerate(outs))
    for name, t in named:
        t.name = name
        network.mark_output(t)

    config = builder.create_builder_config()
    if profiles is not None:
        for prof in [profiles] if isinstance(profiles, dict) else list(profiles):
            p = builder.create_optimization_profile()
            for name, (mn, opt, mx) in prof.items():
                p.set_shape(name, mn, opt, mx)
            config.add_optimization_profile(p)
    if sm_archs is not None:
        config.sm_archs = list(sm_archs)
    return builder.build_serialized_network(network, config)
