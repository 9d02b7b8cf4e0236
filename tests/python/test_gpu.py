"""Running engines built from Python; skipped without a GPU."""

from typing import Tuple, Union

import numpy as np
import pytest

import kiln
import kiln.plugin as trtp
from conftest import has_gpu
from kiln import _lib, _runtime
from plugins_ptx import ADD_ONE_PTX

pytestmark = pytest.mark.skipif(not has_gpu(), reason="no CUDA GPU (kiln_device_create failed)")

AotRet = Tuple[Union[str, bytes], Union[str, bytes], trtp.KernelLaunchParams, trtp.SymExprs]


class DeviceArray:
    """Device memory through kiln's own device API (no torch needed)."""

    def __init__(self, host: np.ndarray):
        self.dev = _runtime.device(0)
        self.nbytes = host.nbytes
        addr = _lib.c_uint64()
        _lib.check(_lib.lib.kiln_device_malloc(self.dev.ptr, self.nbytes, _lib.ctypes.byref(addr)))
        self.address = addr.value
        _lib.check(_lib.lib.kiln_device_copy_to_device(self.dev.ptr, self.address,
                                                       host.ctypes.data, self.nbytes))

    def to_host(self, like: np.ndarray) -> np.ndarray:
        out = np.empty_like(like)
        _lib.check(_lib.lib.kiln_device_copy_to_host(self.dev.ptr, out.ctypes.data, self.address,
                                                     self.nbytes))
        return out

    def free(self):
        _lib.check(_lib.lib.kiln_device_free(self.dev.ptr, self.address))


def test_build_and_run_add_one(uid):
    pid = uid("add_one")

    @trtp.register(pid)
    def desc(inp0: trtp.TensorDesc, block_size: int) -> trtp.TensorDesc:
        return inp0.like()

    @trtp.aot_impl(pid)
    def aot(inp0, block_size: int, outputs, tactic) -> AotRet:
        n = inp0.shape_expr.numel()
        lp = trtp.KernelLaunchParams()
        lp.grid_x = trtp.cdiv(n, block_size)
        lp.block_x = block_size
        return "add_one", ADD_ONE_PTX, lp, trtp.SymIntExprs.from_tuple([n])

    ns, name = pid.split("::")
    builder, network = kiln.create_network()
    x = network.add_input("x", kiln.float32, (-1,))
    layer = network.add_plugin(getattr(getattr(trtp.op, ns), name)(x, block_size=256), aot=True)
    y = layer.get_output(0)
    y.name = "y"
    network.mark_output(y)
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    profile.set_shape("x", (1,), (1000,), (1 << 20,))
    config.add_optimization_profile(profile)
    engine_bytes = builder.build_serialized_network(network, config)

    engine = kiln.Runtime(kiln.Logger()).deserialize_cuda_engine(engine_bytes)
    assert engine.num_io_tensors == 2
    assert engine.get_tensor_mode("x") == kiln.TensorIOMode.INPUT
    context = engine.create_execution_context()
    for n in (1, 1000, 4097):
        host = np.arange(n, dtype=np.float32)
        dx = DeviceArray(host)
        dy = DeviceArray(np.zeros_like(host))
        try:
            context.set_input_shape("x", (n,))
            assert context.get_tensor_shape("y") == (n,)
            context.set_tensor_address("x", dx.address)
            context.set_tensor_address("y", dy.address)
            context.execute_async_v3(0)
            _lib.check(_lib.lib.kiln_stream_synchronize(dx.dev.ptr, None))
            np.testing.assert_array_equal(dy.to_host(host), host + 1)
        finally:
            dx.free()
            dy.free()


def test_seed_triton_kernel_runs(uid):
    """The seed's plugin (ids matched), Triton compiling for this GPU."""
    triton = pytest.importorskip("triton", reason="Triton is not installed")
    import triton.language as tl

    @triton.jit
    def add_kernel(x_ptr, n_elements, y_ptr, BLOCK_SIZE: tl.constexpr):
        pid = tl.program_id(0)
        offsets = pid * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
        mask = offsets < n_elements
        x = tl.load(x_ptr + offsets, mask=mask)
        tl.store(y_ptr + offsets, x + 1, mask=mask)

    pid_ = uid("add_plugin")

    @trtp.register(pid_)
    def add_plugin_desc(inp0: trtp.TensorDesc, block_size: int) -> Tuple[trtp.TensorDesc]:
        return inp0.like()

    @trtp.aot_impl(pid_)
    def add_plugin_aot_impl(inp0: trtp.TensorDesc, block_size: int,
                            outputs: Tuple[trtp.TensorDesc], tactic: int) -> AotRet:
        type_str = "fp32" if inp0.dtype == kiln.float32 else "fp16"
        src = triton.compiler.ASTSource(
            fn=add_kernel,
            signature={"x_ptr": f"*{type_str}", "n_elements": "i32", "y_ptr": f"*{type_str}"},
            constexprs={"BLOCK_SIZE": block_size})
        compiled_kernel = triton.compile(src)
        N = inp0.shape_expr.numel()
        launch_params = trtp.KernelLaunchParams()
        launch_params.grid_x = trtp.cdiv(N, block_size)
        launch_params.block_x = compiled_kernel.metadata.num_warps * 32
        launch_params.shared_mem = compiled_kernel.metadata.shared
        extra_args = trtp.SymIntExprs(1)
        extra_args[0] = trtp.SymInt32(N)
        return compiled_kernel.metadata.name, compiled_kernel.asm["ptx"], launch_params, extra_args

    ns, name = pid_.split("::")
    builder, network = kiln.create_network()
    x = network.add_input("x", kiln.float32, (-1,))
    layer = network.add_plugin(getattr(getattr(trtp.op, ns), name)(x, block_size=256), aot=True)
    y = layer.get_output(0)
    y.name = "y"
    network.mark_output(y)
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    profile.set_shape("x", (1,), (1000,), (1 << 20,))
    config.add_optimization_profile(profile)
    engine_bytes = builder.build_serialized_network(network, config)

    context = kiln.Runtime().deserialize_cuda_engine(engine_bytes).create_execution_context()
    n = 3000
    host = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    dx, dy = DeviceArray(host), DeviceArray(np.zeros_like(host))
    try:
        context.set_input_shape("x", (n,))
        context.set_tensor_address("x", dx.address)
        context.set_tensor_address("y", dy.address)
        context.execute_async_v3(0)
        _lib.check(_lib.lib.kiln_stream_synchronize(dx.dev.ptr, None))
        np.testing.assert_array_equal(dy.to_host(host), host + 1)
    finally:
        dx.free()
        dy.free()


def _add_one_engine(uid):
    pid = uid("add_one_run")

    @trtp.register(pid)
    def desc(inp0: trtp.TensorDesc, block_size: int) -> trtp.TensorDesc:
        return inp0.like()

    @trtp.aot_impl(pid)
    def aot(inp0, block_size: int, outputs, tactic) -> AotRet:
        n = inp0.shape_expr.numel()
        lp = trtp.KernelLaunchParams(grid_x=trtp.cdiv(n, block_size), block_x=block_size)
        return "add_one", ADD_ONE_PTX, lp, trtp.SymIntExprs.from_tuple([n])

    ns, name = pid.split("::")
    return kiln.build(lambda x: getattr(getattr(trtp.op, ns), name)(x, block_size=256),
                      {"x": (kiln.float32, (-1,))}, profiles={"x": ((1,), (1024,), (1 << 20,))})


def test_context_run_numpy(uid):
    context = kiln.Runtime().deserialize_cuda_engine(_add_one_engine(uid)) \
        .create_execution_context()
    for n in (1, 5000):
        x = np.random.default_rng(n).standard_normal(n).astype(np.float32)
        out = context.run({"x": x})
        assert list(out) == ["y"] and out["y"].shape == (n,)
        np.testing.assert_array_equal(out["y"], x + 1)
    with pytest.raises(TypeError, match="dtype float64"):
        context.run({"x": np.zeros(4)})


def test_context_run_torch(uid):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA")
    context = kiln.Runtime().deserialize_cuda_engine(_add_one_engine(uid)) \
        .create_execution_context()
    x = torch.randn(4097, device="cuda")
    y = context.run({"x": x})["y"]
    assert isinstance(y, torch.Tensor) and y.is_cuda
    torch.testing.assert_close(y, x + 1, rtol=0, atol=0)
    s = torch.cuda.Stream()
    with torch.cuda.stream(s):
        y2 = context.run({"x": x})["y"]
    s.synchronize()
    torch.testing.assert_close(y2, x + 1, rtol=0, atol=0)


def test_context_run_cupy(uid):
    cupy = pytest.importorskip("cupy")
    context = kiln.Runtime().deserialize_cuda_engine(_add_one_engine(uid)) \
        .create_execution_context()
    x = cupy.arange(3000, dtype=cupy.float32)
    y = context.run({"x": x})["y"]
    cupy.cuda.get_current_stream().synchronize()
    assert (y.get() == x.get() + 1).all()


def _torch_cuda():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA")
    return torch


def test_context_run_out_and_reuse_outputs_torch(uid):
    torch = _torch_cuda()
    context = kiln.Runtime().deserialize_cuda_engine(_add_one_engine(uid)) \
        .create_execution_context()
    x = torch.randn(4097, device="cuda")
    y = torch.empty_like(x)
    result = context.run({"x": x}, out={"y": y})
    assert result["y"] is y
    torch.cuda.synchronize()
    torch.testing.assert_close(y, x + 1, rtol=0, atol=0)
    a = context.run({"x": x}, reuse_outputs=True)["y"]
    x2 = torch.randn(4097, device="cuda")
    b = context.run({"x": x2}, reuse_outputs=True)["y"]
    torch.cuda.synchronize()
    assert a is b
    torch.testing.assert_close(b, x2 + 1, rtol=0, atol=0)
    fresh = [context.run({"x": x})["y"] for _ in range(2)]
    assert fresh[0] is not fresh[1] and fresh[0].data_ptr() != y.data_ptr()
    with pytest.raises(ValueError, match=r"out\['y'\] must be a contiguous GPU array"):
        context.run({"x": x}, out={"y": torch.empty(10, device="cuda")})
    with pytest.raises(ValueError, match=r"out\['y'\]"):
        context.run({"x": x}, out={"y": torch.empty(4097, device="cuda", dtype=torch.float16)})
    s = torch.cuda.Stream()
    with torch.cuda.stream(s):
        y.fill_(0)
        context.run({"x": x2}, out={"y": y})
    s.synchronize()
    torch.testing.assert_close(y, x2 + 1, rtol=0, atol=0)


def test_context_graphs_and_stream_mode_give_equal_outputs(uid):
    torch = _torch_cuda()
    engine = kiln.Runtime().deserialize_cuda_engine(_add_one_engine(uid))
    graph = engine.create_execution_context()
    stream = engine.create_execution_context(graphs=False)
    assert graph.graphs and not stream.graphs
    for n in (1, 4097, 100000, 4097, 1):
        x = torch.randn(n, device="cuda")
        yg = graph.run({"x": x})["y"]
        ys = stream.run({"x": x})["y"]
        torch.cuda.synchronize()
        assert torch.equal(yg, ys)
        torch.testing.assert_close(yg, x + 1, rtol=0, atol=0)
    # Switching on one context, with outputs at the same address.
    x = torch.randn(5000, device="cuda")
    y = torch.empty_like(x)
    outs = []
    for mode in (True, False, True):
        graph.graphs = mode
        assert graph.graphs is mode
        y.fill_(-1)
        graph.run({"x": x}, out={"y": y})
        torch.cuda.synchronize()
        outs.append(y.clone())
    assert all(torch.equal(o, x + 1) for o in outs)
    # numpy inputs too.
    xn = np.random.default_rng(3).standard_normal(777).astype(np.float32)
    np.testing.assert_array_equal(graph.run({"x": xn})["y"], stream.run({"x": xn})["y"])
