"""kiln.build and context.run: the short Pythonic path."""

from typing import Tuple, Union

import numpy as np
import pytest

import kiln
import kiln.plugin as trtp
from kiln import _runtime
from plugins_ptx import SCALE_PTX

SCALE2_PTX = SCALE_PTX.replace(".param .u64 scale_param_2", ".param .u64 scale_param_2,\n"
                               "  .param .u64 scale_param_3")
AotRet = Tuple[Union[str, bytes], Union[str, bytes], trtp.KernelLaunchParams, trtp.SymExprs]


def op_of(pid):
    ns, name = pid.split("::")
    return getattr(getattr(trtp.op, ns), name)


def define(pid, outputs=1):
    ret = Tuple[(trtp.TensorDesc,) * outputs]

    def desc(inp0: trtp.TensorDesc, block_size: int):
        return tuple(inp0.like() for _ in range(outputs))
    desc.__annotations__["return"] = ret
    trtp.register(pid)(desc)

    @trtp.aot_impl(pid)
    def aot(inp0, block_size: int, outputs, tactic) -> AotRet:
        n = inp0.shape_expr.numel()
        lp = trtp.KernelLaunchParams(grid_x=trtp.cdiv(n, block_size), block_x=block_size)
        ptx = SCALE_PTX if len(outputs) == 1 else SCALE2_PTX
        return "scale", ptx, lp, trtp.SymIntExprs.from_tuple([n])


def test_build_one_output_named_y(uid):
    pid = uid()
    define(pid)
    engine = kiln.build(lambda x: op_of(pid)(x, block_size=256), {"x": (kiln.float32, (-1,))},
                        profiles={"x": ((1,), (64,), (1024,))})
    text = kiln.inspect(engine)
    assert '"y": float32' in text and "grid = (cdiv(x[0], 256), 1, 1)" in text
    assert '"x": [1..64..1024]' in text


def test_build_dict_outputs_example_arrays_and_two_profiles(uid):
    pid = uid()
    define(pid)
    engine = kiln.build(lambda x: {"out": op_of(pid)(x, block_size=128)},
                        {"x": np.zeros((8, 4), np.float16)})
    text = kiln.inspect(engine)
    assert '"out": float16 LINEAR [8, 4]' in text
    engine = kiln.build(lambda x: op_of(pid)(x, block_size=128), {"x": ("FP32", (-1, 4))},
                        profiles=[{"x": ((1, 4), (2, 4), (8, 4))},
                                  {"x": ((9, 4), (16, 4), (64, 4))}])
    assert "profiles (2)" in kiln.inspect(engine)


def test_build_multi_output_plugin_names_y0_y1(uid):
    pid = uid()
    define(pid, outputs=2)
    text = kiln.inspect(kiln.build(lambda x: op_of(pid)(x, block_size=64),
                                   {"x": (kiln.float32, (16,))}))
    assert '"y0"' in text and '"y1"' in text


def test_build_rejects_what_is_not_a_layer(uid):
    with pytest.raises(TypeError, match="result 0 is a int"):
        kiln.build(lambda x: 3, {"x": (kiln.float32, (4,))})
    with pytest.raises(TypeError, match="input 'x'"):
        kiln.build(lambda x: x, {"x": 4})


class _FakeEngine:
    _io = [("x", True, kiln.float32, (-1,)), ("w", True, kiln.float32, (4,)),
           ("y", False, kiln.float32, (-1,))]


class _FakeContext:
    engine = _FakeEngine()


def test_run_names_missing_and_unknown_inputs():
    with pytest.raises(ValueError, match=r"inputs are x, w \(missing w; not an input: y, z\)"):
        _runtime._run(_FakeContext(), {"x": np.zeros(4, np.float32), "y": 1, "z": 2}, None)


def test_run_refuses_mixed_and_foreign_arrays():
    class Foreign:
        __cuda_array_interface__ = {}
    with pytest.raises(TypeError, match="context.run takes torch tensors, cupy arrays"):
        _runtime._run(_FakeContext(), {"x": Foreign(), "w": np.zeros(4, np.float32)}, None)
