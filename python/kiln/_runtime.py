"""Running engines: TensorRT's Runtime, ICudaEngine and IExecutionContext over
kiln's device, engine and context."""

from __future__ import annotations

import ctypes
import enum
import threading

from . import _lib
from ._dtypes import DataType
from ._lib import lib
from .plugin import _plugin

__all__ = ["Runtime", "ICudaEngine", "IExecutionContext", "TensorIOMode", "DeviceBuffer",
           "has_gpu"]


class TensorIOMode(enum.IntEnum):
    NONE = 0
    INPUT = 1
    OUTPUT = 2


class _Device:
    """A retained kiln_device_t (GPU 0 unless told otherwise)."""

    def __init__(self, ordinal: int = 0):
        out = ctypes.c_void_p()
        _lib.check(lib.kiln_device_create(ordinal, _lib.ALLOCATOR, ctypes.byref(out)))
        self.ptr = out.value

    def __del__(self):
        ptr, self.ptr = getattr(self, "ptr", None), None
        if ptr:
            lib.kiln_device_release(ptr)

    @property
    def sm_arch(self) -> int:
        return int(lib.kiln_device_sm_arch(self.ptr))

    @property
    def name(self) -> str:
        return lib.kiln_device_name(self.ptr).decode()


_devices: dict[int, _Device] = {}
_devices_lock = threading.Lock()


def device(ordinal: int = 0) -> _Device:
    with _devices_lock:
        d = _devices.get(ordinal)
        if d is None:
            d = _devices[ordinal] = _Device(ordinal)
        return d


def has_gpu(ordinal: int = 0) -> bool:
    """True when GPU |ordinal| can be opened (driver present, GPU visible)."""
    try:
        device(ordinal)
        return True
    except _lib.KilnError:
        return False


class DeviceBuffer:
    """Device memory through kiln's C API (kiln_device_malloc/copy/free), for
    running engines from numpy without torch or cupy. ``address`` is the
    CUdeviceptr; the memory is freed by ``free()`` or when the object dies."""

    def __init__(self, nbytes: int, ordinal: int = 0):
        self._device = device(ordinal)
        self.nbytes = int(nbytes)
        addr = ctypes.c_uint64()
        _lib.check(lib.kiln_device_malloc(self._device.ptr, self.nbytes, ctypes.byref(addr)))
        self.address = int(addr.value)

    @classmethod
    def from_numpy(cls, array, ordinal: int = 0) -> "DeviceBuffer":
        import numpy as np
        host = np.ascontiguousarray(array)
        buf = cls(host.nbytes, ordinal)
        buf.copy_from(host)
        return buf

    def copy_from(self, array) -> None:
        import numpy as np
        host = np.ascontiguousarray(array)
        if host.nbytes > self.nbytes:
            raise ValueError(f"DeviceBuffer.copy_from: {host.nbytes} bytes do not fit in "
                             f"{self.nbytes}")
        _lib.check(lib.kiln_device_copy_to_device(self._device.ptr, self.address,
                                                  host.ctypes.data, host.nbytes))

    def to_numpy(self, dtype, shape) -> "object":
        """Copies the buffer back (waiting for work on the default stream and
        kiln's streams, as a legacy-stream copy does)."""
        import numpy as np
        out = np.empty(shape, dtype=dtype)
        if out.nbytes > self.nbytes:
            raise ValueError(f"DeviceBuffer.to_numpy: {out.nbytes} bytes requested from "
                             f"{self.nbytes}")
        _lib.check(lib.kiln_device_copy_to_host(self._device.ptr, out.ctypes.data, self.address,
                                                out.nbytes))
        return out

    def free(self) -> None:
        addr, self.address = getattr(self, "address", 0), 0
        if addr:
            _lib.check(lib.kiln_device_free(self._device.ptr, addr))

    def __del__(self):
        try:
            self.free()
        except Exception:  # pragma: no cover - interpreter shutdown, lost device
            pass


def load_options(logger=None) -> _lib.EngineLoadOptions:
    """kiln_engine_load_options_t for engines loaded from Python: kiln.plugin's
    registry (with every plugin defined so far registered), so that host
    (trtp.impl) layers find their plugins; AOT layers need none."""
    from .plugin._plugin import register_all
    options = _lib.EngineLoadOptions()
    options.registry = register_all()
    options.force_ptx = False
    if logger is not None and hasattr(logger, "_c_logger"):
        options.logger = logger._c_logger()
    return options


class Runtime:
    """Deserializes engines onto GPU |device_ordinal|."""

    def __init__(self, logger=None, device_ordinal: int = 0):
        self.logger = logger
        self._ordinal = device_ordinal

    def deserialize_cuda_engine(self, serialized) -> "ICudaEngine":
        """Loads engine bytes; raises KilnError (UnavailableError without a
        GPU, IncompatibleError for an engine the GPU cannot run, ...)."""
        dev = device(self._ordinal)
        data = bytes(serialized)
        out = ctypes.c_void_p()
        options = load_options(self.logger)
        _lib.check(lib.kiln_engine_load(dev.ptr, _lib.const_bytes(data), ctypes.byref(options),
                                        _lib.ALLOCATOR, ctypes.byref(out)))
        engine = ICudaEngine(dev, out.value, data)
        engine._device_ordinal = self._ordinal
        return engine


class ICudaEngine:
    _device_ordinal = 0

    def __init__(self, dev: _Device, ptr: int, data: bytes):
        self._device = dev
        self._ptr = ptr
        self._data = data
        self._io = []
        for i in range(lib.kiln_engine_io_count(ptr)):
            info = _lib.IoInfo()
            _lib.check(lib.kiln_engine_io_info(ptr, i, ctypes.byref(info)))
            self._io.append((info.name.decode(), bool(info.is_input), DataType(info.dtype),
                             tuple(info.dims[k] for k in range(info.rank))))
        self._by_name = {io[0]: io for io in self._io}

    def __del__(self):
        ptr, self._ptr = getattr(self, "_ptr", None), None
        if ptr:
            lib.kiln_engine_release(ptr)

    @property
    def num_io_tensors(self) -> int:
        return len(self._io)

    def get_tensor_name(self, index: int) -> str:
        return self._io[index][0]

    def _get(self, name: str):
        try:
            return self._by_name[name]
        except KeyError:
            raise _lib.NotFoundError(f"engine has no tensor '{name}' (it has "
                                     f"{', '.join(self._by_name)})") from None

    def get_tensor_mode(self, name: str) -> TensorIOMode:
        return TensorIOMode.INPUT if self._get(name)[1] else TensorIOMode.OUTPUT

    def get_tensor_dtype(self, name: str) -> DataType:
        return self._get(name)[2]

    def get_tensor_shape(self, name: str) -> tuple:
        return self._get(name)[3]

    def serialize(self) -> bytes:
        return self._data

    def create_execution_context(self, *, graphs: bool = True) -> "IExecutionContext":
        """A new execution context; ``graphs=False`` starts it in stream mode
        (see IExecutionContext.graphs)."""
        out = ctypes.c_void_p()
        _lib.check(lib.kiln_context_create(self._ptr, _lib.ALLOCATOR, ctypes.byref(out)))
        context = IExecutionContext(self, out.value)
        if not graphs:
            context.graphs = False
        return context


class IExecutionContext:
    def __init__(self, engine: ICudaEngine, ptr: int):
        self.engine = engine
        self._ptr = ptr
        self._graphs = True  # kiln_context_create turns graph mode on
        self._graph_warmup = 1
        self._fast: _FastRun | None = None  # context.run's cache, made by the first run

    def __del__(self):
        ptr, self._ptr = getattr(self, "_ptr", None), None
        if ptr:
            lib.kiln_context_destroy(ptr)

    def set_optimization_profile_async(self, profile: int, stream=0) -> bool:
        if self._fast is not None:
            self._fast.forget_shapes()
        _lib.check(lib.kiln_context_set_profile(self._ptr, profile))
        return True

    def set_input_shape(self, name: str, shape) -> bool:
        if self._fast is not None:
            self._fast.forget_shapes()
        dims = [int(d) for d in shape]
        arr = (ctypes.c_int64 * max(1, len(dims)))(*dims)
        _lib.check(lib.kiln_context_set_input_shape(self._ptr, name.encode(), len(dims), arr))
        return True

    def get_tensor_shape(self, name: str) -> tuple:
        rank = ctypes.c_int32()
        dims = (ctypes.c_int64 * _lib.KILN_MAX_RANK)()
        _lib.check(lib.kiln_context_get_shape(self._ptr, name.encode(), ctypes.byref(rank), dims))
        return tuple(dims[k] for k in range(rank.value))

    def set_tensor_address(self, name: str, address: int) -> bool:
        _lib.check(lib.kiln_context_set_tensor_address(self._ptr, name.encode(), int(address)))
        return True

    def get_max_output_size(self, name: str) -> int:
        """The bytes output |name| may take for the current input shapes
        (TensorRT's get_max_output_size): its size when its shape is known
        before a run, and for a data-dependent output (``get_tensor_shape``
        gives -1 in its data-dependent dimensions) the size at the upper
        bounds its plugin declared. Bind at least this much memory to it."""
        out = ctypes.c_uint64()
        _lib.check(lib.kiln_context_get_max_output_size(self._ptr, name.encode(),
                                                        ctypes.byref(out)))
        return int(out.value)

    def read_output_shape(self, name: str, stream=0) -> tuple:
        """The shape output |name| has after the last execute_async_v3 (or
        run) on |stream| (a CUstream as an int; 0 is the legacy default
        stream). For a data-dependent output this waits until |stream| is
        done (it synchronizes), reads the size tensors the shape uses, checks
        each against 0 and its upper bound (an OutOfRangeError names the
        layer, the size tensor and both values otherwise) and evaluates the
        shape; the first that many elements of the output's memory hold the
        result. For any other output it is ``get_tensor_shape`` and does not
        wait. Raises FailedPreconditionError before a successful enqueue
        with the current input shapes and addresses."""
        rank = ctypes.c_int32()
        dims = (ctypes.c_int64 * _lib.KILN_MAX_RANK)()
        stream = int(getattr(stream, "cuda_stream", getattr(stream, "ptr", stream)) or 0)
        _lib.check(lib.kiln_context_read_output_shape(
            self._ptr, name.encode(), ctypes.c_void_p(stream or None), ctypes.byref(rank), dims))
        return tuple(dims[k] for k in range(rank.value))

    @property
    def graphs(self) -> bool:
        """Graph mode (kiln_context_set_graphs), on for a new context: the
        first run with a set of input shapes captures the engine's launches
        into a CUDA graph and later runs with those shapes replay it (one
        cuGraphLaunch; tensor addresses that change are patched into the
        graph). ``False`` launches each kernel on the stream. Outputs are
        bitwise the same either way. kiln itself falls back to stream mode
        where a graph cannot apply (an engine with trtp.impl host layers, a
        stream being captured, a driver without graphs); this property says
        what was asked. Turning it off frees the context's graphs."""
        return self._graphs

    @graphs.setter
    def graphs(self, enabled: bool) -> None:
        _lib.check(lib.kiln_context_set_graphs(self._ptr, bool(enabled)))
        self._graphs = bool(enabled)

    @property
    def graph_warmup(self) -> int:
        """How many times a new set of input shapes runs in stream mode
        before graph mode captures it (kiln_context_set_graph_warmup): 1 for
        a new context, so shapes used once never pay for a capture; 0
        captures on the first run."""
        return self._graph_warmup

    @graph_warmup.setter
    def graph_warmup(self, enqueues: int) -> None:
        enqueues = int(enqueues)
        if not 0 <= enqueues <= 0xFFFFFFFF:
            raise ValueError(f"graph_warmup must be in [0, 2^32), got {enqueues}")
        _lib.check(lib.kiln_context_set_graph_warmup(self._ptr, enqueues))
        self._graph_warmup = enqueues

    def set_graphs(self, enabled: bool) -> bool:
        """Sets graph mode (see ``graphs``); returns True."""
        self.graphs = enabled
        return True

    def run(self, inputs: dict, stream=None, *, out: dict | None = None,
            reuse_outputs: bool = False) -> dict:
        """Runs the engine on |inputs| ({name: array}) and returns {name:
        output}. torch tensors (on the GPU) give torch outputs, enqueued on
        |stream| or torch's current stream without waiting, like a torch op;
        cupy arrays likewise with cupy; numpy arrays are copied to device
        memory and back, and this returns once the outputs are on the host.
        Sets the input shapes (profile 0 unless set_optimization_profile_async
        chose another).

        A data-dependent output (a shape that depends on a size tensor, such
        as the positions of the non-zero elements) comes back at the shape
        the run produced: a view of a buffer of its upper bound. Finding that
        shape waits for the stream (read_output_shape), so such a run
        returns once the engine is done, whatever the inputs' kind.

        Outputs are new arrays on each call unless the caller says otherwise:

        * ``out={"y": y}``: the engine writes into the given arrays (torch
          or cupy, of the output's shape and dtype, contiguous, on the GPU;
          for numpy inputs, host numpy arrays the results are copied into),
          which are returned; outputs not named are made new.
        * ``reuse_outputs=True``: the context keeps the outputs it made for
          each set of input shapes and writes into them again on the next
          call with those shapes, so a result is overwritten by the next run
          (and is shared by the two returned dicts): copy what must survive.

        The path is cached per context and set of input shapes: the input
        and output names, dtypes and shapes, and the ctypes arguments; the
        addresses are bound in one call (kiln_context_set_tensor_addresses),
        so a call with the shapes of the previous one costs little more host
        time than execute_async_v3 and the arrays' own calls."""
        fast = self._fast
        if fast is None:
            fast = self._fast = _FastRun(self)
        result = fast.run(self, inputs, stream, out, reuse_outputs)
        if result is not None:
            return result
        result = _run(self, inputs, stream)
        if out:
            result = _copy_into(result, out)
        return result

    def execute_async_v3(self, stream_handle: int = 0) -> bool:
        """Enqueues the engine on the CUstream |stream_handle| (0: the legacy
        default stream). Raises KilnError on failure."""
        _plugin._tls.error = None
        status = lib.kiln_context_enqueue(self._ptr, int(stream_handle) or None)
        if status:
            _raise_enqueue_error(status)
        return True


def _raise_enqueue_error(status) -> None:
    """Raises the KilnError of a failed enqueue's |status|, chaining what a
    trtp.impl raised, if one did."""
    err = _lib.take_status(status)
    cause = _plugin.last_callback_error()
    _plugin.clear_callback_error()
    raise err from cause


#===----------------------------------------------------------------------===#
# context.run: torch, cupy and numpy arrays
#===----------------------------------------------------------------------===#

_TORCH_DTYPES = {
    DataType.FLOAT: "float32", DataType.HALF: "float16", DataType.BF16: "bfloat16",
    DataType.INT8: "int8", DataType.INT32: "int32", DataType.INT64: "int64",
    DataType.UINT8: "uint8", DataType.BOOL: "bool",
}


def _kind(value) -> str:
    module = type(value).__module__.split(".")[0]
    if module == "torch":
        return "torch"
    if module == "cupy":
        return "cupy"
    if module == "numpy" or isinstance(value, (list, tuple, int, float)):
        return "numpy"
    if hasattr(value, "__cuda_array_interface__"):
        raise TypeError(f"{type(value).__name__}: context.run takes torch tensors, cupy arrays "
                        "and numpy arrays; for other device arrays use set_tensor_address and "
                        "execute_async_v3")
    return "numpy"


def _check_dtype(name: str, want: DataType, got) -> None:
    from ._dtypes import as_dtype
    try:
        have = as_dtype(got)
    except TypeError:
        have = None
    if have != want:
        raise TypeError(f"context.run: input '{name}' has dtype {got}, the engine wants "
                        f"{want.kiln_name}")


def _run(context: "IExecutionContext", feeds: dict, stream) -> dict:
    engine = context.engine
    names = [io[0] for io in engine._io]
    inputs = [io[0] for io in engine._io if io[1]]
    outputs = [io[0] for io in engine._io if not io[1]]
    missing = [n for n in inputs if n not in feeds]
    unknown = [n for n in feeds if n not in names or n not in inputs]
    if missing or unknown:
        detail = "; ".join(filter(None, [
            f"missing {', '.join(missing)}" if missing else "",
            f"not an input: {', '.join(unknown)}" if unknown else ""]))
        raise ValueError(f"context.run: the engine's inputs are {', '.join(inputs)} ({detail})")
    kinds = {_kind(v) for v in feeds.values()}
    if len(kinds) > 1:
        raise TypeError(f"context.run: mix of {', '.join(sorted(kinds))} inputs; give one kind")
    kind = kinds.pop() if kinds else "numpy"

    if kind == "torch":
        import torch
        dev = None
        for name in inputs:
            t = feeds[name]
            _check_dtype(name, engine.get_tensor_dtype(name), t.dtype)
            if not t.is_cuda:
                raise ValueError(f"context.run: torch input '{name}' is on {t.device}; move it "
                                 "to the GPU (numpy arrays are copied for you)")
            if not t.is_contiguous():
                t = feeds[name] = t.contiguous()
            dev = t.device
            context.set_input_shape(name, t.shape)
            context.set_tensor_address(name, t.data_ptr())
        result = {}
        for name in outputs:
            dtype = getattr(torch, _TORCH_DTYPES[engine.get_tensor_dtype(name)])
            out = torch.empty(_alloc_shape(context, name), dtype=dtype, device=dev)
            context.set_tensor_address(name, out.data_ptr())
            result[name] = out
        if stream is None:
            stream = torch.cuda.current_stream(dev).cuda_stream
        stream = int(getattr(stream, "cuda_stream", stream))
        context.execute_async_v3(stream)
        return _trim_data_dependent(context, result, stream)

    if kind == "cupy":
        import cupy
        for name in inputs:
            a = feeds[name]
            _check_dtype(name, engine.get_tensor_dtype(name), a.dtype)
            if not a.flags.c_contiguous:
                a = feeds[name] = cupy.ascontiguousarray(a)
            context.set_input_shape(name, a.shape)
            context.set_tensor_address(name, a.data.ptr)
        result = {}
        for name in outputs:
            dtype = _TORCH_DTYPES[engine.get_tensor_dtype(name)]
            out = cupy.empty(_alloc_shape(context, name), dtype=dtype)
            context.set_tensor_address(name, out.data.ptr)
            result[name] = out
        if stream is None:
            stream = cupy.cuda.get_current_stream().ptr
        stream = int(getattr(stream, "ptr", stream))
        context.execute_async_v3(stream)
        return _trim_data_dependent(context, result, stream)

    # numpy: through device memory; returns when the outputs are back.
    import numpy as np
    from ._dtypes import to_numpy
    buffers = []
    try:
        for name in inputs:
            want = engine.get_tensor_dtype(name)
            a = np.asarray(feeds[name])
            if a.dtype != to_numpy(want):
                _check_dtype(name, want, a.dtype)
            buf = DeviceBuffer.from_numpy(a, engine._device_ordinal)
            buffers.append(buf)
            context.set_input_shape(name, a.shape)
            context.set_tensor_address(name, buf.address)
        out_bufs = {}
        for name in outputs:
            shape = context.get_tensor_shape(name)
            # A data-dependent output gets its upper bound's memory.
            nbytes = context.get_max_output_size(name)
            buf = DeviceBuffer(max(nbytes, 1), engine._device_ordinal)
            buffers.append(buf)
            out_bufs[name] = (buf, shape)
            context.set_tensor_address(name, buf.address)
        context.execute_async_v3(int(stream or 0))
        if stream:
            _lib.check(lib.kiln_stream_synchronize(engine._device.ptr, ctypes.c_void_p(int(stream))))
        # Copies back wait for the legacy default stream (and kiln's streams);
        # data-dependent outputs come back at the shape the run produced.
        return {name: buf.to_numpy(to_numpy(engine.get_tensor_dtype(name)),
                                   context.read_output_shape(name, int(stream or 0))
                                   if any(d < 0 for d in shape) else shape)
                for name, (buf, shape) in out_bufs.items()}
    finally:
        for b in buffers:
            b.free()


def _alloc_shape(context: "IExecutionContext", name: str) -> tuple:
    """The shape to allocate output |name| with: its shape, or for a
    data-dependent output a flat array of its upper bound's elements."""
    shape = context.get_tensor_shape(name)
    if all(d >= 0 for d in shape):
        return shape
    itemsize = context.engine.get_tensor_dtype(name).itemsize
    return (context.get_max_output_size(name) // itemsize,)


def _trim_data_dependent(context: "IExecutionContext", result: dict, stream: int) -> dict:
    """Replaces each data-dependent output in |result| (a flat array of its
    upper bound) by a view at the shape the run produced, which waits for
    |stream|."""
    for name, out in result.items():
        if any(d < 0 for d in context.get_tensor_shape(name)):
            shape = context.read_output_shape(name, stream)
            count = 1
            for d in shape:
                count *= d
            result[name] = out[:count].reshape(shape)
    return result


#===----------------------------------------------------------------------===#
# context.run's fast path: torch and cupy arrays, cached per set of shapes
#===----------------------------------------------------------------------===#

_MAX_SHAPE_SETS = 64  # cached sets of input shapes per context (then cleared)


def _copy_into(result: dict, out: dict) -> dict:
    """The general path's results copied into the caller's arrays |out| (host
    numpy arrays for numpy inputs; torch or cupy arrays otherwise, copied on
    the current stream)."""
    for name, array in out.items():
        if name not in result:
            raise ValueError(f"context.run: out names '{name}', which is not an output (the "
                             f"outputs are {', '.join(result)})")
        src = result[name]
        same = (type(array).__module__.split(".")[0] == type(src).__module__.split(".")[0]
                and tuple(array.shape) == tuple(src.shape) and array.dtype == src.dtype)
        if not same:
            raise ValueError(f"context.run: out['{name}'] must be a {type(src).__name__} of "
                             f"shape {tuple(src.shape)} and dtype {src.dtype}, like the inputs, "
                             f"got {type(array).__name__} of shape "
                             f"{tuple(getattr(array, 'shape', ()))} and dtype "
                             f"{getattr(array, 'dtype', '?')}")
        if hasattr(array, "copy_"):  # torch
            array.copy_(src)
        else:  # numpy, cupy
            array[...] = src
        result[name] = array
    return result


class _FastRun:
    """What context.run keeps between calls: names, dtypes and binding
    indices; per set of input shapes the output shapes; the ctypes arrays and
    arguments for shapes and addresses. ``run`` returns None when the call is
    not one for the fast path (numpy inputs, data-dependent output shapes,
    anything unusual, or an error to report): then the general path runs and
    says what is wrong."""

    def __init__(self, context: IExecutionContext):
        # (No reference to |context|, which owns this: it is passed to run.)
        io = context.engine._io
        self.count = len(io)
        self.inputs = [i[0] for i in io if i[1]]
        self.outputs = [i[0] for i in io if not i[1]]
        self.output_set = frozenset(self.outputs)
        self.in_dtypes = [i[2] for i in io if i[1]]
        self.out_dtypes = [i[2] for i in io if not i[1]]
        self.in_names = [n.encode() for n in self.inputs]
        self.in_dims = [(ctypes.c_int64 * max(1, len(i[3])))() for i in io if i[1]]
        # kiln numbers the bindings inputs first, then outputs: the addresses
        # array is filled in that order.
        self.addresses = (ctypes.c_uint64 * max(1, self.count))()
        self.args = (ctypes.c_void_p(context._ptr), ctypes.c_uint32(self.count),
                     ctypes.cast(self.addresses, ctypes.POINTER(ctypes.c_uint64)))
        self.kinds: dict = {}          # array type -> "torch" / "cupy" / "numpy" / "other"
        self.torch = None              # the module, with torch_in/torch_out/raw_stream
        self.torch_in = self.torch_out = self.raw_stream = None
        self.cupy = None
        self.cupy_in = self.cupy_out = None
        self.last_key = None           # the input shapes the context has now
        self.last_shapes = None        # and the output shapes they give
        self.shapes: dict = {}         # input shapes -> output shapes
        self.kept: dict = {}           # (kind, device, input shapes) -> outputs
        # Always the general path: an engine with no inputs or outputs, or
        # with data-dependent output shapes (found at the first run).
        ordered = all(i[1] for i in io[:len(self.inputs)])
        self.general = not self.inputs or not self.outputs or not ordered

    def forget_shapes(self) -> None:
        """The context's input shapes were set elsewhere (or its profile
        changed): set them again at the next run. (The output shapes cached
        per set of input shapes stay valid: they do not depend on the
        profile.)"""
        self.last_key = None

    def _kind(self, value) -> str:
        t = type(value)
        kind = self.kinds.get(t)
        if kind is None:
            try:
                kind = _kind(value)
            except TypeError:
                kind = "other"
            self.kinds[t] = kind
        return kind

    def _output_shapes(self, context, key):
        """Sets the input shapes |key| on |context| and returns the output
        shapes, or None when one is data-dependent."""
        self.last_key = None
        ptr = context._ptr
        for name, dims, shape in zip(self.in_names, self.in_dims, key):
            rank = len(shape)
            if rank > len(dims):
                return None  # the general path names the rank mismatch
            for k in range(rank):
                dims[k] = shape[k]
            _lib.check(lib.kiln_context_set_input_shape(ptr, name, rank, dims))
        shapes = self.shapes.get(key)
        if shapes is None:
            shapes = tuple(context.get_tensor_shape(n) for n in self.outputs)
            if any(d < 0 for s in shapes for d in s):
                self.general = True  # known only after a run: the general path
                return None
            if len(self.shapes) >= _MAX_SHAPE_SETS:
                self.shapes.clear()
                self.kept.clear()
            self.shapes[key] = shapes
        self.last_key, self.last_shapes = key, shapes
        return shapes

    def _enqueue(self, pointers, stream, outs) -> dict:
        """Binds |pointers| (inputs, then outputs), enqueues on |stream| and
        returns the outputs |outs| by name."""
        self.addresses[0:self.count] = pointers
        status = lib.kiln_context_set_tensor_addresses(*self.args)
        if status:
            _lib.check(status)
        _plugin._tls.error = None
        status = lib.kiln_context_enqueue(self.args[0], stream or None)
        if status:
            _raise_enqueue_error(status)
        if len(outs) == 1:
            return {self.outputs[0]: outs[0]}
        return dict(zip(self.outputs, outs))

    def _check_out_names(self, out: dict) -> None:
        if not out.keys() <= self.output_set:
            unknown = [n for n in out if n not in self.output_set]
            raise ValueError(f"context.run: out names {', '.join(map(repr, unknown))}, which "
                             f"{'is' if len(unknown) == 1 else 'are'} not an output (the "
                             f"outputs are {', '.join(self.outputs)})")

    def _bad_out(self, name, o, shape, dtype) -> ValueError:
        return ValueError(f"context.run: out['{name}'] must be a contiguous GPU array of shape "
                          f"{tuple(shape)} and dtype {dtype}, like the inputs, got "
                          f"{type(o).__name__} of shape {tuple(getattr(o, 'shape', ()))} and "
                          f"dtype {getattr(o, 'dtype', '?')}")

    def run(self, context, feeds, stream, out, reuse):
        if self.general or type(feeds) is not dict or len(feeds) != len(self.inputs):
            return None
        try:
            arrays = [feeds[n] for n in self.inputs]
        except KeyError:
            return None  # the general path names what is missing
        first = arrays[0]
        kind = self.kinds.get(type(first)) or self._kind(first)
        for a in arrays[1:]:
            if self._kind(a) != kind:
                return None
        if kind == "torch":
            return self._run_torch(context, arrays, stream, out, reuse)
        if kind == "cupy":
            return self._run_cupy(context, arrays, stream, out, reuse)
        return None

    # -- torch ------------------------------------------------------------------

    def _init_torch(self):
        import torch
        self.torch_in = [getattr(torch, _TORCH_DTYPES[d]) for d in self.in_dtypes]
        self.torch_out = [getattr(torch, _TORCH_DTYPES[d]) for d in self.out_dtypes]
        # torch's current stream as a CUstream, without making a
        # torch.cuda.Stream object (Triton's launcher does the same).
        raw = getattr(torch._C, "_cuda_getCurrentRawStream", None)
        self.raw_stream = raw or (lambda i: torch.cuda.current_stream(i).cuda_stream)
        self.torch = torch
        return torch

    def _run_torch(self, context, arrays, stream, out, reuse):
        torch = self.torch or self._init_torch()
        pointers = []
        key = []
        for t, dt in zip(arrays, self.torch_in):
            if t.dtype is not dt or not t.is_cuda or not t.is_contiguous():
                return None  # the general path converts or names the problem
            key.append(t.shape)
            pointers.append(t.data_ptr())
        key = tuple(key)
        device_index = arrays[0].get_device()
        for t in arrays[1:]:
            if t.get_device() != device_index:
                return None
        shapes = (self.last_shapes if key == self.last_key
                  else self._output_shapes(context, key))
        if shapes is None:
            return None
        dtypes = self.torch_out
        if out:
            self._check_out_names(out)
            outs = []
            for name, shape, dt in zip(self.outputs, shapes, dtypes):
                o = out.get(name)
                if o is None:
                    o = torch.empty(shape, dtype=dt, device=arrays[0].device)
                elif (not isinstance(o, torch.Tensor) or o.dtype is not dt or o.shape != shape
                      or not o.is_cuda or not o.is_contiguous()
                      or o.get_device() != device_index):
                    raise self._bad_out(name, o, shape, dt)
                outs.append(o)
        elif reuse:
            slot = ("torch", device_index, key)
            outs = self.kept.get(slot)
            if outs is None:
                dev = arrays[0].device
                outs = self.kept[slot] = [torch.empty(shape, dtype=dt, device=dev)
                                          for shape, dt in zip(shapes, dtypes)]
        else:
            # Tensor.new_empty: the first input's device without parsing a
            # device argument (cheaper than torch.empty(..., device=)).
            new_empty = arrays[0].new_empty
            outs = [new_empty(shape, dtype=dt) for shape, dt in zip(shapes, dtypes)]
        for o in outs:
            pointers.append(o.data_ptr())
        if stream is None:
            stream = self.raw_stream(device_index)
        elif type(stream) is not int:
            stream = int(getattr(stream, "cuda_stream", stream))
        return self._enqueue(pointers, stream, outs)

    # -- cupy -------------------------------------------------------------------

    def _run_cupy(self, context, arrays, stream, out, reuse):
        cupy = self.cupy
        if cupy is None:
            import cupy
            import numpy as np
            self.cupy_in = [np.dtype(_TORCH_DTYPES[d]) for d in self.in_dtypes]
            self.cupy_out = [np.dtype(_TORCH_DTYPES[d]) for d in self.out_dtypes]
            self.cupy = cupy
        pointers = []
        key = []
        for a, dt in zip(arrays, self.cupy_in):
            if a.dtype != dt or not a.flags.c_contiguous:
                return None
            key.append(a.shape)
            pointers.append(a.data.ptr)
        key = tuple(key)
        shapes = (self.last_shapes if key == self.last_key
                  else self._output_shapes(context, key))
        if shapes is None:
            return None
        dtypes = self.cupy_out
        if out:
            self._check_out_names(out)
            outs = []
            for name, shape, dt in zip(self.outputs, shapes, dtypes):
                o = out.get(name)
                if o is None:
                    o = cupy.empty(shape, dtype=dt)
                elif (not isinstance(o, cupy.ndarray) or o.dtype != dt or o.shape != shape
                      or not o.flags.c_contiguous):
                    raise self._bad_out(name, o, shape, dt)
                outs.append(o)
        elif reuse:
            slot = ("cupy", cupy.cuda.Device().id, key)
            outs = self.kept.get(slot)
            if outs is None:
                outs = self.kept[slot] = [cupy.empty(shape, dtype=dt)
                                          for shape, dt in zip(shapes, dtypes)]
        else:
            outs = [cupy.empty(shape, dtype=dt) for shape, dt in zip(shapes, dtypes)]
        for o in outs:
            pointers.append(o.data.ptr)
        if stream is None:
            stream = cupy.cuda.get_current_stream().ptr
        elif type(stream) is not int:
            stream = int(getattr(stream, "ptr", stream))
        return self._enqueue(pointers, stream, outs)
