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

    def create_execution_context(self) -> "IExecutionContext":
        out = ctypes.c_void_p()
        _lib.check(lib.kiln_context_create(self._ptr, _lib.ALLOCATOR, ctypes.byref(out)))
        return IExecutionContext(self, out.value)


class IExecutionContext:
    def __init__(self, engine: ICudaEngine, ptr: int):
        self.engine = engine
        self._ptr = ptr

    def __del__(self):
        ptr, self._ptr = getattr(self, "_ptr", None), None
        if ptr:
            lib.kiln_context_destroy(ptr)

    def set_optimization_profile_async(self, profile: int, stream=0) -> bool:
        _lib.check(lib.kiln_context_set_profile(self._ptr, profile))
        return True

    def set_input_shape(self, name: str, shape) -> bool:
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

    def run(self, inputs: dict, stream=None) -> dict:
        """Runs the engine on |inputs| ({name: array}) and returns {name:
        output}. torch tensors (on the GPU) give torch outputs, enqueued on
        |stream| or torch's current stream without waiting, like a torch op;
        cupy arrays likewise with cupy; numpy arrays are copied to device
        memory and back, and this returns once the outputs are on the host.
        Sets the input shapes (profile 0 unless set_optimization_profile_async
        chose another)."""
        return _run(self, inputs, stream)

    def execute_async_v3(self, stream_handle: int = 0) -> bool:
        """Enqueues the engine on the CUstream |stream_handle| (0: the legacy
        default stream). Raises KilnError on failure."""
        _plugin._tls.error = None
        status = lib.kiln_context_enqueue(self._ptr, int(stream_handle) or None)
        if status:
            err = _lib.take_status(status)
            cause = _plugin.last_callback_error()  # what a trtp.impl raised, if one did
            _plugin.clear_callback_error()
            raise err from cause
        return True


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
            out = torch.empty(context.get_tensor_shape(name), dtype=dtype, device=dev)
            context.set_tensor_address(name, out.data_ptr())
            result[name] = out
        if stream is None:
            stream = torch.cuda.current_stream(dev).cuda_stream
        context.execute_async_v3(int(getattr(stream, "cuda_stream", stream)))
        return result

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
            out = cupy.empty(context.get_tensor_shape(name), dtype=dtype)
            context.set_tensor_address(name, out.data.ptr)
            result[name] = out
        if stream is None:
            stream = cupy.cuda.get_current_stream().ptr
        context.execute_async_v3(int(getattr(stream, "ptr", stream)))
        return result

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
            nbytes = int(np.prod(shape, dtype=np.int64)) * engine.get_tensor_dtype(name).itemsize
            buf = DeviceBuffer(max(nbytes, 1), engine._device_ordinal)
            buffers.append(buf)
            out_bufs[name] = (buf, shape)
            context.set_tensor_address(name, buf.address)
        context.execute_async_v3(int(stream or 0))
        if stream:
            _lib.check(lib.kiln_stream_synchronize(engine._device.ptr, ctypes.c_void_p(int(stream))))
        # Copies back wait for the legacy default stream (and kiln's streams).
        return {name: buf.to_numpy(to_numpy(engine.get_tensor_dtype(name)), shape)
                for name, (buf, shape) in out_bufs.items()}
    finally:
        for b in buffers:
            b.free()
