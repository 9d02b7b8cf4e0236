"""trtp.impl: host implementations (TensorRT's JIT impl), their validation, the
Tensor they receive, and the host layers of an engine."""

import ctypes
from typing import Tuple

import numpy as np
import numpy.typing as npt
import pytest

import kiln
import kiln.plugin as trtp
from kiln import _lib, _runtime
from conftest import has_gpu
from kiln.plugin import _plugin


def op_of(pid):
    ns, name = pid.split("::")
    return getattr(getattr(trtp.op, ns), name)


def register(pid):
    @trtp.register(pid)
    def desc(inp0: trtp.TensorDesc, inp1: trtp.TensorDesc, alpha: float, mode: str,
             pads: npt.NDArray[np.int32]) -> Tuple[trtp.TensorDesc]:
        return inp0.like()


# -- validation -----------------------------------------------------------------


def test_impl_full_schema_with_annotations(uid):
    pid = uid()
    register(pid)

    @trtp.impl(pid)
    def impl(inp0: trtp.Tensor, inp1: trtp.Tensor, alpha: float, mode: str,
             pads: npt.NDArray[np.int32], outputs: Tuple[trtp.Tensor], stream: int,
             tactic: int) -> None:
        pass

    pdef = op_of(pid)
    assert pdef.impl_attrs == ["alpha", "mode", "pads"]
    assert pdef.impl_expects_tactic


def test_impl_attribute_subset_and_no_tactic(uid):
    pid = uid()
    register(pid)

    @trtp.impl(pid)
    def impl(inp0, inp1, mode, outputs, stream):
        pass

    pdef = op_of(pid)
    assert pdef.impl_attrs == ["mode"]
    assert not pdef.impl_expects_tactic


@pytest.mark.parametrize("params, match", [
    ("x, inp1, outputs, stream", "must be the inputs"),
    ("inp0, inp1, beta, outputs, stream", "'beta' is not an attribute"),
    ("inp0, inp1, mode, alpha, outputs, stream", "keep the order"),
    ("inp0, inp1, outputs", r"outputs, stream, \[tactic\]"),
    ("inp0, inp1, stream, outputs", r"outputs, stream, \[tactic\]"),
    ("inp0, inp1, outputs, stream, tactic, extra", r"outputs, stream, \[tactic\]"),
])
def test_impl_bad_parameter_lists_are_named(uid, params, match):
    pid = uid()
    register(pid)
    ns = {}
    exec(f"def impl_fn({params}):\n    pass\n", ns)
    with pytest.raises(ValueError, match=match) as info:
        trtp.impl(pid)(ns["impl_fn"])
    assert pid in str(info.value) and "impl_fn" in str(info.value)


def test_impl_annotations_are_checked(uid):
    pid = uid()
    register(pid)
    with pytest.raises(TypeError, match="annotate it trtp.Tensor"):
        @trtp.impl(pid)
        def a(inp0: trtp.TensorDesc, inp1, outputs, stream):
            pass
    with pytest.raises(TypeError, match="'alpha' is annotated int"):
        @trtp.impl(pid)
        def b(inp0, inp1, alpha: int, outputs, stream):
            pass
    with pytest.raises(TypeError, match="'stream' must be an int"):
        @trtp.impl(pid)
        def c(inp0, inp1, outputs, stream: str):
            pass
    with pytest.raises(TypeError, match="return annotation must be None"):
        @trtp.impl(pid)
        def d(inp0, inp1, outputs, stream) -> int:
            pass


def test_impl_for_unknown_plugin_names_both_ids(uid):
    pid = uid("add_plugin")
    register(pid)
    typo = pid.replace("add_plugin", "elemwise_add_plugin")
    with pytest.raises(LookupError) as info:
        trtp.impl(typo)
    assert typo in str(info.value) and pid in str(info.value)


def test_second_impl_is_refused(uid):
    pid = uid()
    register(pid)
    trtp.impl(pid)(lambda inp0, inp1, outputs, stream: None)
    with pytest.raises(ValueError, match="already has an impl"):
        trtp.impl(pid)(lambda inp0, inp1, outputs, stream: None)


# -- Tensor -----------------------------------------------------------------------


def test_tensor_properties_and_cuda_array_interface():
    t = trtp.Tensor(0x1000, kiln.float16, (2, 3, 4), stream=0)
    assert (t.data_ptr, t.dtype, t.shape, t.ndim, t.numel()) == (0x1000, kiln.float16,
                                                                 (2, 3, 4), 3, 24)
    assert t.strides == (12, 4, 1)
    cai = t.__cuda_array_interface__
    assert cai == {"shape": (2, 3, 4), "typestr": "<f2", "data": (0x1000, False), "version": 3,
                   "strides": (24, 8, 2), "stream": 1}
    assert trtp.Tensor(0x10, kiln.int32, (5,), stream=0x55).__cuda_array_interface__[
        "stream"] == 0x55
    with pytest.raises(TypeError, match="BF16"):
        trtp.Tensor(0x10, kiln.bfloat16, (5,)).__cuda_array_interface__
    with pytest.raises(ValueError, match="data-dependent"):
        trtp.Tensor(0x10, kiln.float32, (-1, 4)).numel()


def test_b5_tensor_is_aliased_is_not_inverted():
    t = trtp.Tensor(0x2000, kiln.float32, (4, 6))
    assert not t.is_aliased and t.get_aliased() is None
    v = t.aliased((24,))
    assert v.is_aliased and v.get_aliased() is t
    assert v.data_ptr == t.data_ptr and v.shape == (24,) and v.strides == (1,)
    assert t.aliased().shape == (4, 6)
    with pytest.raises(ValueError, match="elements"):
        t.aliased((5,))


# -- the host_impl callback, called as the runtime calls it --------------------------


def _device_tensor(ptr, dtype, dims):
    c = _lib.DeviceTensor()
    c.data = ptr
    c.dtype = int(dtype)
    c.format = 0
    c.rank = len(dims)
    acc = 1
    for k in reversed(range(len(dims))):
        c.dims[k] = dims[k]
        c.strides[k] = acc
        acc *= dims[k]
    return c


def test_host_impl_callback_wraps_tensors_and_passes_its_attributes(uid):
    pid = uid()
    register(pid)
    seen = []

    @trtp.impl(pid)
    def impl(inp0: trtp.Tensor, inp1: trtp.Tensor, mode: str, pads: npt.NDArray[np.int32],
             outputs: Tuple[trtp.Tensor], stream: int, tactic: int) -> None:
        seen.append((inp0, inp1, mode, pads, outputs, stream, tactic))

    _, net = kiln.create_network()
    a = net.add_input("a", kiln.float32, (2, 3))
    b = net.add_input("b", kiln.float32, (2, 3))
    call = op_of(pid)(a, b, alpha=0.5, mode="wrap", pads=np.array([1, 2], np.int32))
    pdef = call.plugin
    attrs = call._make_c_attrs()
    try:
        ins = (_lib.DeviceTensor * 2)(_device_tensor(0x1000, kiln.float32, (2, 3)),
                                      _device_tensor(0x2000, kiln.float32, (2, 3)))
        outs = (_lib.DeviceTensor * 1)(_device_tensor(0x1000, kiln.float32, (2, 3)))
        args = _lib.HostImplArgs()
        args.plugin = pdef._c_plugin
        args.inputs = ctypes.cast(ins, ctypes.POINTER(_lib.DeviceTensor))
        args.input_count = 2
        args.outputs = ctypes.cast(outs, ctypes.POINTER(_lib.DeviceTensor))
        args.output_count = 1
        args.attrs = attrs
        args.stream = 0x77
        args.tactic = 3
        status = _plugin._host_impl_cb(pdef._key, ctypes.byref(args))
        assert _lib.take_status(status) is None
    finally:
        _lib.lib.kiln_attrs_destroy(attrs)
    (inp0, inp1, mode, pads, outputs, stream, tactic), = seen
    assert isinstance(inp0, trtp.Tensor) and inp0.data_ptr == 0x1000 and inp0.shape == (2, 3)
    assert inp1.data_ptr == 0x2000
    assert mode == "wrap" and pads.tolist() == [1, 2] and pads.dtype == np.int32
    assert isinstance(outputs, list) and len(outputs) == 1
    assert stream == 0x77 and tactic == 3
    assert outputs[0].__cuda_array_interface__["stream"] == 0x77
    # Same address as an input: an in-place output.
    assert outputs[0].is_aliased and outputs[0].get_aliased() is inp0
    assert not inp1.is_aliased


def test_host_impl_exception_becomes_a_status(uid):
    pid = uid()

    @trtp.register(pid)
    def desc(inp0: trtp.TensorDesc) -> trtp.TensorDesc:
        return inp0.like()

    @trtp.impl(pid)
    def impl(inp0, outputs, stream):
        raise RuntimeError("boom in impl")

    _, net = kiln.create_network()
    call = op_of(pid)(net.add_input("x", kiln.float32, (4,)))
    pdef = call.plugin
    ins = (_lib.DeviceTensor * 1)(_device_tensor(0x1000, kiln.float32, (4,)))
    outs = (_lib.DeviceTensor * 1)(_device_tensor(0x2000, kiln.float32, (4,)))
    args = _lib.HostImplArgs(None, ctypes.cast(ins, ctypes.POINTER(_lib.DeviceTensor)), 1,
                             ctypes.cast(outs, ctypes.POINTER(_lib.DeviceTensor)), 1, None,
                             None, 0)
    err = _lib.take_status(_plugin._host_impl_cb(pdef._key, ctypes.byref(args)))
    assert err is not None and "boom in impl" in err.message
    assert isinstance(_plugin.last_callback_error(), RuntimeError)
    _plugin.clear_callback_error()


# -- host layers in engines -------------------------------------------------------------


def _define_host_plugin(pid, with_aot=False):
    @trtp.register(pid)
    def desc(inp0: trtp.TensorDesc, k: int) -> trtp.TensorDesc:
        return inp0.like()

    @trtp.impl(pid)
    def impl(inp0, k, outputs, stream):
        pass


def _build_host(pid, aot):
    builder, network = kiln.create_network()
    x = network.add_input("x", kiln.float32, (-1,))
    layer = network.add_plugin(op_of(pid)(x, k=7), aot=aot)
    layer.get_output(0).name = "y"
    network.mark_output(layer.get_output(0))
    config = builder.create_builder_config()
    p = builder.create_optimization_profile()
    p.set_shape("x", (1,), (16,), (1024,))
    config.add_optimization_profile(p)
    return builder.build_serialized_network(network, config)


@pytest.mark.parametrize("aot", [False, None])
def test_engine_with_a_host_layer(uid, aot):
    pid = uid("host")
    _define_host_plugin(pid)
    text = kiln.inspect(_build_host(pid, aot))
    assert f"{pid}, host" in text
    assert "host implementation" in text and "kernels (0)" in text


def test_aot_true_without_aot_impl_is_refused_for_host_only_plugin(uid):
    pid = uid("host")
    _define_host_plugin(pid)
    with pytest.raises(ValueError, match="no trtp.aot_impl"):
        _build_host(pid, True)


def test_load_options_carry_the_registry_with_every_plugin(uid):
    pid = uid("never_used")
    _define_host_plugin(pid)
    assert op_of(pid)._c_plugin is None
    options = _runtime.load_options()
    assert options.registry == _plugin.registry()
    # The plugin was never used through trtp.op, yet it is registered now, so
    # an engine's host layer naming it is found at load.
    assert op_of(pid)._c_plugin is not None
    found = ctypes.c_void_p()
    data = pid.encode()
    _lib.check(_lib.lib.kiln_registry_lookup(options.registry, _lib.string_view(data),
                                             ctypes.byref(found)))
    assert found.value == op_of(pid)._c_plugin


# -- on a GPU: a host impl written with torch (or cupy) --------------------------------


def _array_module():
    try:
        import torch
        if torch.cuda.is_available():
            return "torch"
    except ImportError:
        pass
    try:
        import cupy  # noqa: F401
        return "cupy"
    except ImportError:
        return None


_ARRAYS = _array_module() if has_gpu() else None


@pytest.mark.skipif(not has_gpu(), reason="no CUDA GPU (kiln_device_create failed)")
@pytest.mark.skipif(has_gpu() and _ARRAYS is None, reason="neither torch (with CUDA) nor cupy")
def test_gpu_host_impl_runs_in_an_engine(uid):
    pid = uid("add_k")
    calls = []

    @trtp.register(pid)
    def desc(inp0: trtp.TensorDesc, k: float) -> trtp.TensorDesc:
        return inp0.like()

    @trtp.impl(pid)
    def impl(inp0: trtp.Tensor, k: float, outputs: Tuple[trtp.Tensor], stream: int) -> None:
        calls.append((inp0.shape, stream, outputs[0].is_aliased))
        if _ARRAYS == "torch":
            import torch
            x = torch.as_tensor(inp0, device="cuda")
            y = torch.as_tensor(outputs[0], device="cuda")
            with torch.cuda.stream(torch.cuda.ExternalStream(stream)):
                y.copy_(x + k)
        else:
            import cupy
            with cupy.cuda.ExternalStream(stream):
                y = cupy.asarray(outputs[0])
                y[...] = cupy.asarray(inp0) + k

    builder, network = kiln.create_network()
    x = network.add_input("x", kiln.float32, (-1, 3))
    layer = network.add_plugin(op_of(pid)(x, k=2.5), aot=False)
    layer.get_output(0).name = "y"
    network.mark_output(layer.get_output(0))
    config = builder.create_builder_config()
    p = builder.create_optimization_profile()
    p.set_shape("x", (1, 3), (8, 3), (4096, 3))
    config.add_optimization_profile(p)
    engine_bytes = builder.build_serialized_network(network, config)

    engine = kiln.Runtime().deserialize_cuda_engine(engine_bytes)
    context = engine.create_execution_context()
    host = np.arange(3000, dtype=np.float32).reshape(1000, 3)
    if _ARRAYS == "torch":
        import torch
        dx = torch.from_numpy(host).cuda()
        dy = torch.empty_like(dx)
        stream = torch.cuda.Stream()
        addr_x, addr_y, handle = dx.data_ptr(), dy.data_ptr(), stream.cuda_stream
    else:
        import cupy
        dx = cupy.asarray(host)
        dy = cupy.empty_like(dx)
        stream = cupy.cuda.Stream(non_blocking=True)
        addr_x, addr_y, handle = dx.data.ptr, dy.data.ptr, stream.ptr
    context.set_input_shape("x", host.shape)
    context.set_tensor_address("x", addr_x)
    context.set_tensor_address("y", addr_y)
    context.execute_async_v3(handle)
    stream.synchronize()
    got = dy.cpu().numpy() if _ARRAYS == "torch" else dy.get()
    np.testing.assert_array_equal(got, host + 2.5)
    assert calls == [((1000, 3), handle, False)]
