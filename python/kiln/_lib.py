"""ctypes binding of libkiln's C ABI (include/kiln/kiln.h, kiln_plugin.h).

Thin on purpose: every structure below mirrors a C declaration, every function
has its argtypes/restype declared, and a non-NULL ``kiln_status_t`` becomes a
:class:`kiln.KilnError` subclass chosen by its code. The status is freed in a
``finally`` block.

The library is found, in order, through the ``KILN_LIBRARY`` environment
variable (a path to ``libkiln.so``), the repository's ``build/libkiln.so``
(when this package is used from a source checkout), and a ``libkiln.so`` next
to this file (an installed wheel).
"""

from __future__ import annotations

import ctypes
import os
import threading
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_bool,
    c_char,
    c_char_p,
    c_double,
    c_float,
    c_int,
    c_int32,
    c_int64,
    c_size_t,
    c_uint8,
    c_uint32,
    c_uint64,
    c_void_p,
)

KILN_MAX_RANK = 8
KILN_PLUGIN_ABI_VERSION = 1

#===----------------------------------------------------------------------===#
# Errors
#===----------------------------------------------------------------------===#


class KilnError(Exception):
    """A kiln status that is not OK. ``code`` is the numeric status code,
    ``code_name`` its name (``"INVALID_ARGUMENT"``), ``message`` the text."""

    code = -1
    code_name = "UNKNOWN"

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"{self.code_name}: {self.message}"


def _error_class(name: str, code: int, *bases):
    return type(name, (KilnError, *bases), {"code": code, "code_name": _CODE_NAMES[code]})


_CODE_NAMES = [
    "OK", "INVALID_ARGUMENT", "NOT_FOUND", "ALREADY_EXISTS", "OUT_OF_RANGE",
    "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "UNIMPLEMENTED", "UNAVAILABLE",
    "DATA_LOSS", "INCOMPATIBLE", "DEVICE_LOST", "INTERNAL",
]

STATUS_INVALID_ARGUMENT = 1

# Each error is also the built-in exception a Python programmer expects, so
# `except ValueError` catches a bad argument as it does with TensorRT.
InvalidArgumentError = _error_class("InvalidArgumentError", 1, ValueError)
NotFoundError = _error_class("NotFoundError", 2, LookupError)
AlreadyExistsError = _error_class("AlreadyExistsError", 3, ValueError)
OutOfRangeError = _error_class("OutOfRangeError", 4, ValueError)
ResourceExhaustedError = _error_class("ResourceExhaustedError", 5, MemoryError)
FailedPreconditionError = _error_class("FailedPreconditionError", 6, RuntimeError)
UnimplementedError = _error_class("UnimplementedError", 7, NotImplementedError)
UnavailableError = _error_class("UnavailableError", 8, RuntimeError)
DataLossError = _error_class("DataLossError", 9, ValueError)
IncompatibleError = _error_class("IncompatibleError", 10, RuntimeError)
DeviceLostError = _error_class("DeviceLostError", 11, RuntimeError)
InternalError = _error_class("InternalError", 12, RuntimeError)

_ERRORS = {
    cls.code: cls
    for cls in (
        InvalidArgumentError, NotFoundError, AlreadyExistsError, OutOfRangeError,
        ResourceExhaustedError, FailedPreconditionError, UnimplementedError,
        UnavailableError, DataLossError, IncompatibleError, DeviceLostError,
        InternalError,
    )
}


def error_for(code: int, message: str) -> KilnError:
    cls = _ERRORS.get(code)
    if cls is None:
        err = KilnError(message, code)
        return err
    return cls(message)


#===----------------------------------------------------------------------===#
# Structures
#===----------------------------------------------------------------------===#

kiln_status_t = c_void_p
kiln_sym_t = c_void_p


class StringView(Structure):
    _fields_ = [("data", c_void_p), ("size", c_size_t)]


class ConstBytes(Structure):
    _fields_ = [("data", c_void_p), ("size", c_size_t)]


LOG_FN = CFUNCTYPE(None, c_void_p, c_int, c_char_p)


class Logger(Structure):
    _fields_ = [("fn", LOG_FN), ("user_data", c_void_p), ("max_level", c_int)]


class Allocator(Structure):
    _fields_ = [("self", c_void_p), ("fn", c_void_p)]


class AttrField(Structure):
    _fields_ = [("name", c_char_p), ("type", c_int)]


class TensorDescC(Structure):
    _fields_ = [
        ("dtype", c_int),
        ("format", c_int),
        ("rank", c_int32),
        ("dims", c_void_p * KILN_MAX_RANK),
        ("aliased_input", c_int32),
        ("is_size_tensor", c_bool),
    ]


class AttrSubset(Structure):
    _fields_ = [("names", POINTER(c_char_p)), ("count", c_size_t)]


class DescribeArgs(Structure):
    _fields_ = [
        ("plugin", c_void_p),
        ("inputs", POINTER(TensorDescC)),
        ("input_count", c_size_t),
        ("output_count", c_size_t),
        ("attrs", c_void_p),
        ("sym", c_void_p),
    ]


class AutotuneCombination(Structure):
    _fields_ = [
        ("io_types", POINTER(c_int)),
        ("io_formats", POINTER(c_int)),
        ("tactics", POINTER(c_int32)),
        ("tactic_count", c_size_t),
    ]


class AutotuneArgs(Structure):
    _fields_ = [
        ("plugin", c_void_p),
        ("inputs", POINTER(TensorDescC)),
        ("input_count", c_size_t),
        ("outputs", POINTER(TensorDescC)),
        ("output_count", c_size_t),
        ("attrs", c_void_p),
    ]


class KernelImage(Structure):
    _fields_ = [("kind", c_int), ("sm_arch", c_uint32), ("bytes", ConstBytes)]


KERNEL_IMAGE_PTX = 0
KERNEL_IMAGE_CUBIN = 1
ARG_TYPE_INT32 = 0


class ExtraArg(Structure):
    _fields_ = [("type", c_int), ("value", c_void_p), ("f32", c_float)]


class LaunchParams(Structure):
    _fields_ = [
        ("grid", c_void_p * 3),
        ("block", c_void_p * 3),
        ("shared_mem", c_void_p),
    ]


class AotArgs(Structure):
    _fields_ = [
        ("plugin", c_void_p),
        ("inputs", POINTER(TensorDescC)),
        ("input_count", c_size_t),
        ("outputs", POINTER(TensorDescC)),
        ("output_count", c_size_t),
        ("attrs", c_void_p),
        ("sym", c_void_p),
        ("tactic", c_int32),
    ]


class AotResult(Structure):
    pass


AOT_RELEASE_FN = CFUNCTYPE(None, c_void_p, POINTER(AotResult))

AotResult._fields_ = [
    ("kernel_name", StringView),
    ("images", POINTER(KernelImage)),
    ("image_count", c_size_t),
    ("launch", LaunchParams),
    ("extra_args", POINTER(ExtraArg)),
    ("extra_arg_count", c_size_t),
    ("global_scratch_size", c_uint64),
    ("global_scratch_align", c_uint32),
    ("profile_scratch_size", c_uint64),
    ("profile_scratch_align", c_uint32),
    ("num_ctas", c_uint32),
    ("release", AOT_RELEASE_FN),
    ("release_data", c_void_p),
]

DESCRIBE_FN = CFUNCTYPE(c_void_p, c_void_p, POINTER(DescribeArgs), POINTER(TensorDescC))
AUTOTUNE_FN = CFUNCTYPE(c_void_p, c_void_p, POINTER(AutotuneArgs), c_void_p)
AOT_IMPL_FN = CFUNCTYPE(c_void_p, c_void_p, POINTER(AotArgs), POINTER(AotResult))
USER_DATA_RELEASE_FN = CFUNCTYPE(None, c_void_p)


class DeviceTensor(Structure):
    """kiln_device_tensor_t: a concrete tensor on the device (host_impl)."""
    _fields_ = [
        ("data", c_void_p),
        ("dtype", c_int),
        ("format", c_int),
        ("rank", c_int32),
        ("dims", c_int64 * KILN_MAX_RANK),
        ("strides", c_int64 * KILN_MAX_RANK),
    ]


class HostImplArgs(Structure):
    _fields_ = [
        ("plugin", c_void_p),
        ("inputs", POINTER(DeviceTensor)),
        ("input_count", c_size_t),
        ("outputs", POINTER(DeviceTensor)),
        ("output_count", c_size_t),
        ("attrs", c_void_p),
        ("stream", c_void_p),
        ("tactic", c_int32),
    ]


HOST_IMPL_FN = CFUNCTYPE(c_void_p, c_void_p, POINTER(HostImplArgs))


class PluginDef(Structure):
    _fields_ = [
        ("abi_version", c_uint32),
        ("id", c_char_p),
        ("version", c_char_p),
        ("input_count", c_uint32),
        ("output_count", c_uint32),
        ("attrs", POINTER(AttrField)),
        ("attr_count", c_size_t),
        ("user_data", c_void_p),
        ("user_data_release", USER_DATA_RELEASE_FN),
        ("describe", DESCRIBE_FN),
        ("describe_attrs", AttrSubset),
        ("autotune", AUTOTUNE_FN),
        ("autotune_attrs", AttrSubset),
        ("aot_impl", AOT_IMPL_FN),
        ("aot_impl_attrs", AttrSubset),
        ("host_impl", HOST_IMPL_FN),
        ("host_impl_attrs", AttrSubset),
    ]


class SymInfo(Structure):
    _fields_ = [
        ("op", c_int),
        ("value", c_int64),
        ("tensor", c_uint32),
        ("dim", c_uint32),
        ("index", c_uint32),
        ("a", c_void_p),
        ("b", c_void_p),
        ("depth", c_uint32),
    ]


class IoInfo(Structure):
    _fields_ = [
        ("name", c_char_p),
        ("is_input", c_bool),
        ("dtype", c_int),
        ("rank", c_int32),
        ("dims", c_int64 * KILN_MAX_RANK),
        ("data_dependent_dims", c_uint32),
        ("is_size_tensor", c_bool),
    ]


class EngineLoadOptions(Structure):
    _fields_ = [("registry", c_void_p), ("force_ptx", c_bool), ("logger", Logger)]


SYM_OP_CONST, SYM_OP_DIM, SYM_OP_SIZE_TENSOR = 0, 1, 2
SYM_OP_SUM, SYM_OP_SUB, SYM_OP_PROD, SYM_OP_FLOOR_DIV, SYM_OP_CEIL_DIV = 3, 4, 5, 6, 7
SYM_OP_MAX, SYM_OP_MIN, SYM_OP_EQUAL, SYM_OP_LESS = 8, 9, 10, 11

#===----------------------------------------------------------------------===#
# Loading
#===----------------------------------------------------------------------===#


def _candidates():
    env = os.environ.get("KILN_LIBRARY")
    if env:
        yield env
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(here))  # python/kiln -> repository
    yield os.path.join(repo, "build", "libkiln.so")
    yield os.path.join(here, "libkiln.so")


def _load():
    tried = []
    for path in _candidates():
        if os.path.exists(path):
            try:
                return ctypes.CDLL(path), path
            except OSError as e:  # pragma: no cover - a broken file
                tried.append(f"{path} ({e})")
        else:
            tried.append(f"{path} (missing)")
    raise ImportError(
        "kiln: cannot find libkiln.so; build it (`make build`) or set "
        "KILN_LIBRARY to its path. Tried: " + "; ".join(tried))


lib, library_path = _load()

# (name, restype, argtypes). A restype of kiln_status_t means "check it".
_SIGNATURES = [
    ("kiln_version", c_int32, []),
    ("kiln_version_string", c_char_p, []),
    ("kiln_status_code", c_int, [kiln_status_t]),
    ("kiln_status_message", c_char_p, [kiln_status_t]),
    ("kiln_status_free", None, [kiln_status_t]),
    ("kiln_status_code_name", c_char_p, [c_int]),
    ("kiln_allocator_system", Allocator, []),
    ("kiln_dtype_name", c_char_p, [c_int]),
    ("kiln_dtype_size", c_size_t, [c_int]),
    ("kiln_dtype_parse", kiln_status_t, [StringView, POINTER(c_int)]),
    ("kiln_format_parse", kiln_status_t, [StringView, POINTER(c_int)]),
    ("kiln_make_cstring_view", StringView, [c_char_p]),
    ("kiln_attr_type_name", c_char_p, [c_int]),
    # Symbolic integers.
    ("kiln_sym_table_create", kiln_status_t, [Allocator, POINTER(c_void_p)]),
    ("kiln_sym_table_destroy", None, [c_void_p]),
    ("kiln_sym_table_take_error", kiln_status_t, [c_void_p]),
    ("kiln_sym_const", kiln_sym_t, [c_void_p, c_int64]),
    ("kiln_sym_dim", kiln_sym_t, [c_void_p, c_uint32, c_uint32]),
    ("kiln_sym_size_tensor", kiln_sym_t, [c_void_p, c_uint32, kiln_sym_t, kiln_sym_t]),
    ("kiln_sym_make", kiln_status_t, [c_void_p, c_int, kiln_sym_t, kiln_sym_t, POINTER(c_void_p)]),
    ("kiln_sym_get_info", SymInfo, [kiln_sym_t]),
    ("kiln_sym_is_constant", c_bool, [kiln_sym_t, POINTER(c_int64)]),
    ("kiln_sym_print", kiln_status_t,
     [kiln_sym_t, POINTER(c_char_p), c_size_t, c_void_p, c_size_t, POINTER(c_size_t)]),
    # Attributes.
    ("kiln_attrs_create", kiln_status_t, [c_void_p, Allocator, POINTER(c_void_p)]),
    ("kiln_attrs_destroy", None, [c_void_p]),
    ("kiln_attrs_set_int64", kiln_status_t, [c_void_p, c_char_p, c_int64]),
    ("kiln_attrs_set_float64", kiln_status_t, [c_void_p, c_char_p, c_double]),
    ("kiln_attrs_set_bool", kiln_status_t, [c_void_p, c_char_p, c_bool]),
    ("kiln_attrs_set_string", kiln_status_t, [c_void_p, c_char_p, StringView]),
    ("kiln_attrs_set_bytes", kiln_status_t, [c_void_p, c_char_p, ConstBytes]),
    ("kiln_attrs_set_array", kiln_status_t, [c_void_p, c_char_p, c_int, c_void_p, c_size_t]),
    ("kiln_attrs_get_int64", kiln_status_t, [c_void_p, c_char_p, POINTER(c_int64)]),
    ("kiln_attrs_get_float64", kiln_status_t, [c_void_p, c_char_p, POINTER(c_double)]),
    ("kiln_attrs_get_bool", kiln_status_t, [c_void_p, c_char_p, POINTER(c_bool)]),
    ("kiln_attrs_get_string", kiln_status_t, [c_void_p, c_char_p, POINTER(StringView)]),
    ("kiln_attrs_get_bytes", kiln_status_t, [c_void_p, c_char_p, POINTER(ConstBytes)]),
    ("kiln_attrs_get_array", kiln_status_t,
     [c_void_p, c_char_p, c_int, POINTER(c_void_p), POINTER(c_size_t)]),
    # Blobs.
    ("kiln_blob_bytes", ConstBytes, [c_void_p]),
    ("kiln_blob_destroy", None, [c_void_p]),
    # Registry and plugins.
    ("kiln_registry_create", kiln_status_t, [Allocator, c_void_p, POINTER(c_void_p)]),
    ("kiln_registry_release", None, [c_void_p]),
    ("kiln_registry_register", kiln_status_t, [c_void_p, POINTER(PluginDef), POINTER(c_void_p)]),
    ("kiln_registry_lookup", kiln_status_t, [c_void_p, StringView, POINTER(c_void_p)]),
    ("kiln_plugin_id_validate", kiln_status_t, [StringView]),
    # Autotune.
    ("kiln_autotune_result_create", kiln_status_t, [c_size_t, Allocator, POINTER(c_void_p)]),
    ("kiln_autotune_result_destroy", None, [c_void_p]),
    ("kiln_autotune_result_count", c_size_t, [c_void_p]),
    ("kiln_autotune_result_at", AutotuneCombination, [c_void_p, c_size_t]),
    ("kiln_autotune_result_add_spec", kiln_status_t,
     [c_void_p, c_char_p, c_char_p, POINTER(c_int32), c_size_t]),
    # Networks and building.
    ("kiln_network_create", kiln_status_t, [c_void_p, Allocator, POINTER(c_void_p)]),
    ("kiln_network_destroy", None, [c_void_p]),
    ("kiln_network_add_input", kiln_status_t,
     [c_void_p, c_char_p, c_int, c_int32, POINTER(c_int64), POINTER(c_uint32)]),
    ("kiln_network_add_constant", kiln_status_t,
     [c_void_p, c_char_p, c_int, c_int32, POINTER(c_int64), ConstBytes, POINTER(c_uint32)]),
    ("kiln_network_add_plugin", kiln_status_t,
     [c_void_p, c_char_p, c_char_p, POINTER(c_uint32), c_size_t, c_void_p, c_int,
      POINTER(c_uint32)]),
    ("kiln_network_layer_output", kiln_status_t, [c_void_p, c_uint32, c_uint32, POINTER(c_uint32)]),
    ("kiln_network_mark_output", kiln_status_t, [c_void_p, c_uint32, c_char_p]),
    ("kiln_build_config_create", kiln_status_t, [Allocator, POINTER(c_void_p)]),
    ("kiln_build_config_destroy", None, [c_void_p]),
    ("kiln_build_config_add_profile", kiln_status_t, [c_void_p, POINTER(c_uint32)]),
    ("kiln_build_config_set_shape", kiln_status_t,
     [c_void_p, c_uint32, c_char_p, c_int32, POINTER(c_int64), POINTER(c_int64),
      POINTER(c_int64)]),
    ("kiln_build_config_set_targets", kiln_status_t, [c_void_p, POINTER(c_uint32), c_size_t]),
    ("kiln_build_config_set_timing", None, [c_void_p, c_bool]),
    ("kiln_build_config_set_logger", None, [c_void_p, Logger]),
    ("kiln_build", kiln_status_t, [c_void_p, c_void_p, Allocator, POINTER(c_void_p)]),
    ("kiln_engine_describe", kiln_status_t, [ConstBytes, c_bool, Allocator, POINTER(c_void_p)]),
    # Runtime.
    ("kiln_device_create", kiln_status_t, [c_int32, Allocator, POINTER(c_void_p)]),
    ("kiln_device_release", None, [c_void_p]),
    ("kiln_device_sm_arch", c_uint32, [c_void_p]),
    ("kiln_device_name", c_char_p, [c_void_p]),
    ("kiln_device_malloc", kiln_status_t, [c_void_p, c_size_t, POINTER(c_uint64)]),
    ("kiln_device_free", kiln_status_t, [c_void_p, c_uint64]),
    ("kiln_device_copy_to_device", kiln_status_t, [c_void_p, c_uint64, c_void_p, c_size_t]),
    ("kiln_device_copy_to_host", kiln_status_t, [c_void_p, c_void_p, c_uint64, c_size_t]),
    ("kiln_device_synchronize", kiln_status_t, [c_void_p]),
    ("kiln_stream_synchronize", kiln_status_t, [c_void_p, c_void_p]),
    ("kiln_engine_load", kiln_status_t,
     [c_void_p, ConstBytes, POINTER(EngineLoadOptions), Allocator, POINTER(c_void_p)]),
    ("kiln_engine_release", None, [c_void_p]),
    ("kiln_engine_io_count", c_uint32, [c_void_p]),
    ("kiln_engine_io_info", kiln_status_t, [c_void_p, c_uint32, POINTER(IoInfo)]),
    ("kiln_context_create", kiln_status_t, [c_void_p, Allocator, POINTER(c_void_p)]),
    ("kiln_context_destroy", None, [c_void_p]),
    ("kiln_context_set_profile", kiln_status_t, [c_void_p, c_uint32]),
    ("kiln_context_set_input_shape", kiln_status_t,
     [c_void_p, c_char_p, c_int32, POINTER(c_int64)]),
    ("kiln_context_get_shape", kiln_status_t,
     [c_void_p, c_char_p, POINTER(c_int32), POINTER(c_int64)]),
    ("kiln_context_get_max_output_size", kiln_status_t,
     [c_void_p, c_char_p, POINTER(c_uint64)]),
    ("kiln_context_read_output_shape", kiln_status_t,
     [c_void_p, c_char_p, c_void_p, POINTER(c_int32), POINTER(c_int64)]),
    ("kiln_context_set_tensor_address", kiln_status_t, [c_void_p, c_char_p, c_uint64]),
    ("kiln_context_set_tensor_addresses", kiln_status_t,
     [c_void_p, c_uint32, POINTER(c_uint64)]),
    ("kiln_context_enqueue", kiln_status_t, [c_void_p, c_void_p]),
    ("kiln_context_set_graphs", kiln_status_t, [c_void_p, c_bool]),
    ("kiln_context_set_graph_warmup", kiln_status_t, [c_void_p, c_uint32]),
]

for _name, _restype, _argtypes in _SIGNATURES:
    _fn = getattr(lib, _name)
    _fn.restype = _restype
    _fn.argtypes = _argtypes

# Variadic: only the fixed parameters are declared; the message is passed as
# the single "%s" argument.
lib.kiln_status_make.restype = kiln_status_t
lib.kiln_status_make.argtypes = [c_int, c_char_p, c_int, c_char_p]

ALLOCATOR = lib.kiln_allocator_system()


def take_status(status) -> KilnError | None:
    """Turns an owned status into an exception object (or None) and frees it."""
    if not status:
        return None
    try:
        code = lib.kiln_status_code(status)
        message = (lib.kiln_status_message(status) or b"").decode("utf-8", "replace")
        return error_for(code, message)
    finally:
        lib.kiln_status_free(status)


def check(status) -> None:
    """Raises the KilnError for a non-NULL status (which it frees)."""
    err = take_status(status)
    if err is not None:
        raise err


def make_status(code: int, message: str) -> int:
    """Makes a new status (owned by whoever receives it) for a callback."""
    data = message.encode("utf-8", "replace").replace(b"\0", b"?")
    return lib.kiln_status_make(code, b"python", 0, b"%s", c_char_p(data))


def string_view(data: bytes) -> StringView:
    """A view of |data|; the caller keeps |data| alive while the view is used."""
    return StringView(ctypes.cast(c_char_p(data), c_void_p), len(data))


def const_bytes(data: bytes) -> ConstBytes:
    return ConstBytes(ctypes.cast(c_char_p(data), c_void_p), len(data))


def view_bytes(view) -> bytes:
    if not view.data or not view.size:
        return b""
    return ctypes.string_at(view.data, view.size)


def blob_take(blob) -> bytes:
    """Copies a kiln_blob_t's bytes out and destroys it."""
    try:
        return view_bytes(lib.kiln_blob_bytes(blob))
    finally:
        lib.kiln_blob_destroy(blob)


def version() -> str:
    return lib.kiln_version_string().decode()


# A logger that sends kiln's lines to Python's logging module.
import logging as _logging

_py_logger = _logging.getLogger("kiln")
_LEVELS = [_logging.ERROR, _logging.WARNING, _logging.INFO, _logging.DEBUG]


@LOG_FN
def _log_to_python(user_data, level, message):  # pragma: no cover - depends on C
    try:
        _py_logger.log(_LEVELS[level] if 0 <= level < 4 else _logging.INFO,
                       (message or b"").decode("utf-8", "replace"))
    except BaseException:
        pass


def python_logger(max_level: int = 1) -> Logger:
    return Logger(_log_to_python, None, max_level)


_lock = threading.Lock()
