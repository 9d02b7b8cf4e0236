"""The ctypes layer: loading, status -> exception."""

import pytest

import kiln
from kiln import _dtypes, _lib


def test_library_loads_and_reports_its_version():
    assert kiln.version().count(".") == 2
    path = getattr(kiln, "library_path")
    assert path.endswith(".so") or ".so." in path


def test_status_becomes_error_with_code_and_message():
    with pytest.raises(kiln.InvalidArgumentError) as info:
        _dtypes.parse_dtype("FP33")
    err = info.value
    assert err.code == 1 and err.code_name == "INVALID_ARGUMENT"
    assert "FP33" in err.message and "FP33" in str(err)
    assert isinstance(err, kiln.KilnError) and isinstance(err, ValueError)


def test_error_class_per_code():
    for code, cls in _lib._ERRORS.items():
        err = _lib.error_for(code, "m")
        assert type(err) is cls and err.code == code and err.message == "m"


def test_make_status_round_trip():
    status = _lib.make_status(2, "no such thing: 100% sure")
    err = _lib.take_status(status)
    assert isinstance(err, kiln.NotFoundError)
    assert err.message == "no such thing: 100% sure"


def test_dtypes_match_tensorrt_spellings():
    assert kiln.float32 is kiln.DataType.FLOAT
    assert kiln.float16 is kiln.DataType.HALF
    assert kiln.int32 is kiln.DataType.INT32
    assert _dtypes.parse_dtype("fp16") is kiln.float16
    assert kiln.float16.itemsize == 2
