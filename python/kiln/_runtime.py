"""Running engines: TensorRT's Runtime, ICudaEngine and IExecutionContext over
kiln's device, engine and context."""

from __future__ import annotations

import ctypes
import enum
import threading

from . import _lib
from ._dtypes import DataType
from ._lib import lib

__all__ = ["Runtime", "ICudaEngine", "IExecutionContext", "TensorIOMode"]


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
        _lib.check(lib.kiln_engine_load(dev.ptr, _lib.const_bytes(data), None, _lib.ALLOCATOR,
                                        ctypes.byref(out)))
        return ICudaEngine(dev, out.value, data)


class ICudaEngine:
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

    def execute_async_v3(self, stream_handle: int = 0) -> bool:
        """Enqueues the engine on the CUstream |stream_handle| (0: the legacy
        default stream). Raises KilnError on failure."""
        _lib.check(lib.kiln_context_enqueue(self._ptr, ctypes.c_void_p(int(stream_handle) or None)))
        return True
