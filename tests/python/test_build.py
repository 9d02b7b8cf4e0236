"""Building engines from Python with a PTX kernel, and inspecting them."""

from typing import Tuple, Union

import numpy as np
import numpy.typing as npt
import pytest

import kiln
import kiln.plugin as trtp
from conftest import has_gpu
from plugins_ptx import SCALE_PTX

AotRet = Tuple[Union[str, bytes], Union[str, bytes], trtp.KernelLaunchParams, trtp.SymExprs]


def op_of(pid):
    ns, name = pid.split("::")
    return getattr(getattr(trtp.op, ns), name)


def build(pid, shape=(-1,), profile=((1,), (1024,), (1 << 20,)), **attrs):
    builder, network = kiln.create_network()
    x = network.add_input("x", kiln.float32, shape)
    layer = network.add_plugin(op_of(pid)(x, **attrs), aot=True)
    y = layer.get_output(0)
    y.name = "y"
    network.mark_output(y)
    config = builder.create_builder_config()
    if profile:
        p = builder.create_optimization_profile()
        p.set_shape("x", *profile)
        config.add_optimization_profile(p)
    return builder.build_serialized_network(network, config)


def define_scale(pid, calls=None, block=256):
    @trtp.register(pid)
    def desc(inp0: trtp.TensorDesc, block_size: int, secret: str) -> Tuple[trtp.TensorDesc]:
        return inp0.like()

    @trtp.aot_impl(pid)
    def aot(inp0: trtp.TensorDesc, block_size: int, outputs: Tuple[trtp.TensorDesc],
            tactic: int) -> AotRet:
        if calls is not None:
            calls.append((inp0.dtype, block_size, tactic, outputs[0].dtype))
        n = inp0.shape_expr.numel()
        lp = trtp.KernelLaunchParams()
        lp.grid_x = trtp.cdiv(n, block_size)
        lp.block_x = 128
        extra = trtp.SymIntExprs(1)
        extra[0] = trtp.SymInt32(n)
        return "scale", SCALE_PTX, lp, extra


def test_build_engine_with_ptx_and_inspect(uid):
    pid = uid("scale")
    calls = []
    define_scale(pid, calls)
    engine = build(pid, block_size=256, secret="TOP-SECRET-ATTRIBUTE")
    assert isinstance(engine, bytes) and len(engine) > 0
    text = kiln.inspect(engine)
    assert "grid = (cdiv(x[0], 256), 1, 1)" in text
    assert "block = (128, 1, 1)" in text
    assert "arg 0: int32 = x[0]" in text
    assert pid in text
    # AOT engines carry no attribute values.
    assert b"TOP-SECRET-ATTRIBUTE" not in engine
    assert calls == [(kiln.float32, 256, 0, kiln.float32)]
    assert '"layers"' in kiln.inspect(engine, json=True)


def test_b3_aot_impl_receives_only_its_attributes(uid):
    pid = uid()
    seen = []

    @trtp.register(pid)
    def desc(inp0: trtp.TensorDesc, a: int, b: str, c: float) -> trtp.TensorDesc:
        return inp0.like()

    @trtp.aot_impl(pid)
    def aot(inp0, c: float, outputs, tactic) -> AotRet:
        seen.append(c)
        lp = trtp.KernelLaunchParams(grid_x=trtp.cdiv(inp0.shape_expr[0], 64), block_x=64)
        return "scale", SCALE_PTX.encode(), lp, trtp.SymIntExprs.from_tuple([inp0.shape_expr[0]])

    build(pid, a=1, b="two", c=3.5)
    assert seen == [3.5]


def test_tactics_each_get_an_aot_impl_call(uid):
    pid = uid()
    calls = []

    @trtp.register(pid)
    def desc(inp0: trtp.TensorDesc) -> trtp.TensorDesc:
        return inp0.like()

    @trtp.autotune(pid)
    def tune(inp0, outputs):
        c = trtp.AutoTuneCombination()
        c.pos([0, 1], "FP32")
        c.tactics([1, 2])
        return [c]

    @trtp.aot_impl(pid)
    def aot(inp0, outputs, tactic) -> AotRet:
        calls.append(tactic)
        block = {1: 256, 2: 1024}[tactic]
        lp = trtp.KernelLaunchParams()
        lp.grid_x = trtp.cdiv(inp0.shape_expr.numel(), block)
        lp.block_x = block
        return "scale", SCALE_PTX, lp, trtp.SymIntExprs.from_tuple([inp0.shape_expr.numel()])

    engine = build(pid)
    # One aot_impl call per (combination, tactic); with a GPU, timing builds
    # each candidate once more on its own.
    assert calls[:2] == [1, 2] and calls[2:] in ([], [1, 2])
    text = kiln.inspect(engine)
    assert "AOT, tactic 1" in text or "AOT, tactic 2" in text


def test_describe_shapes_and_constant_dims(uid):
    pid = uid("pad")

    @trtp.register(pid)
    def desc(inp0: trtp.TensorDesc, pads: npt.NDArray[np.int32]) -> trtp.TensorDesc:
        out = inp0.like()
        for i in range(np.size(pads) // 2):
            out.shape_expr[inp0.ndim - i - 1] += int(pads[i * 2] + pads[i * 2 + 1])
        return out

    @trtp.aot_impl(pid)
    def aot(inp0, pads: npt.NDArray[np.int32], outputs, tactic) -> AotRet:
        assert list(pads) == [1, 2]
        assert outputs[0].shape == (3, 7)  # constant dims: 4 + 1 + 2
        assert inp0.shape == (3, 4)
        lp = trtp.KernelLaunchParams(grid_x=outputs[0].shape_expr.numel(), block_x=32)
        extra = trtp.SymIntExprs.from_tuple([outputs[0].shape_expr[1] * 2])
        return "scale", SCALE_PTX, lp, extra

    engine = build(pid, shape=(3, 4), profile=None, pads=np.array([1, 2], np.int32))
    text = kiln.inspect(engine)
    assert "grid = (21, 1, 1)" in text
    assert "arg 0: int32 = 14" in text


def test_python_exception_in_aot_impl_becomes_error(uid):
    pid = uid("broken")

    @trtp.register(pid)
    def desc(inp0: trtp.TensorDesc) -> trtp.TensorDesc:
        return inp0.like()

    @trtp.aot_impl(pid)
    def aot(inp0, outputs, tactic) -> AotRet:
        raise RuntimeError("kernel compiler exploded")

    with pytest.raises(kiln.KilnError) as info:
        build(pid)
    assert "kernel compiler exploded" in str(info.value)
    assert pid in str(info.value)
    assert isinstance(info.value.__cause__, RuntimeError)


def test_python_exception_in_describe_becomes_error(uid):
    pid = uid()

    @trtp.register(pid)
    def desc(inp0: trtp.TensorDesc) -> Tuple[trtp.TensorDesc, trtp.TensorDesc]:
        return inp0.like()  # one output, two declared

    @trtp.aot_impl(pid)
    def aot(inp0, outputs, tactic) -> AotRet:
        raise AssertionError("not reached")

    with pytest.raises(kiln.KilnError, match="returned 1 output"):
        build(pid)


def test_input_descriptors_are_immutable(uid):
    pid = uid()

    @trtp.register(pid)
    def desc(inp0: trtp.TensorDesc) -> trtp.TensorDesc:
        inp0.dtype = kiln.float16
        return inp0

    @trtp.aot_impl(pid)
    def aot(inp0, outputs, tactic) -> AotRet:
        raise AssertionError("not reached")

    with pytest.raises(kiln.KilnError, match="immutable"):
        build(pid)


def test_bad_return_types_are_reported(uid):
    pid = uid()

    @trtp.register(pid)
    def desc(inp0: trtp.TensorDesc) -> trtp.TensorDesc:
        return inp0.like()

    @trtp.aot_impl(pid)
    def aot(inp0, outputs, tactic):
        extra = trtp.SymExprs(1)
        extra._items[0] = 1.5  # bypass the container's check
        return "scale", SCALE_PTX, trtp.KernelLaunchParams(), extra

    with pytest.raises(kiln.KilnError, match="extra arg 0 must be an int32"):
        build(pid)


def test_aot_true_needs_an_aot_impl(uid):
    pid = uid()

    @trtp.register(pid)
    def desc(inp0: trtp.TensorDesc) -> trtp.TensorDesc:
        return inp0.like()

    _, net = kiln.create_network()
    x = net.add_input("x", kiln.float32, (4,))
    with pytest.raises(ValueError, match="no trtp.aot_impl"):
        net.add_plugin(op_of(pid)(x), aot=True)


def test_runtime_without_gpu_raises_unavailable(uid):
    if has_gpu():
        pytest.skip("a GPU is present")
    pid = uid("scale")
    define_scale(pid)
    engine = build(pid, block_size=256, secret="s")
    with pytest.raises(kiln.UnavailableError):
        kiln.Runtime(kiln.Logger()).deserialize_cuda_engine(engine)


def test_b5_aliased_outputs(uid):
    pid = uid("inplace")
    flags = []

    @trtp.register(pid)
    def desc(inp0: trtp.TensorDesc) -> trtp.TensorDesc:
        out = inp0.aliased()
        flags.append((out.is_aliased, out.get_aliased() is inp0, inp0.like().is_aliased,
                      inp0.is_aliased))
        return out

    @trtp.aot_impl(pid)
    def aot(inp0, outputs, tactic) -> AotRet:
        n = inp0.shape_expr.numel()
        lp = trtp.KernelLaunchParams(grid_x=trtp.cdiv(n, 256), block_x=256)
        return "scale", SCALE_PTX, lp, trtp.SymIntExprs.from_tuple([n])

    # kiln aliases only internal activations: x -> scale -> inplace -> scale -> y.
    scale = uid("scale")
    define_scale(scale)
    builder, network = kiln.create_network()
    t = network.add_input("x", kiln.float32, (64,))
    t = network.add_plugin(op_of(scale)(t, block_size=64, secret="s"), aot=True).get_output(0)
    t = network.add_plugin(op_of(pid)(t), aot=True).get_output(0)
    t = network.add_plugin(op_of(scale)(t, block_size=64, secret="s"), aot=True).get_output(0)
    t.name = "y"
    network.mark_output(t)
    engine = builder.build_serialized_network(network, builder.create_builder_config())
    assert flags and flags[0] == (True, True, False, False)
    assert "alias" in kiln.inspect(engine)
