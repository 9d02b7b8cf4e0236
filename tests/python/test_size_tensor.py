"""Size tensors (data-dependent output shapes) from Python: trtp.size_tensor,
SizeTensorDesc and SizeTensorShapeExpr, building a plugin with one, and
running it when there is a GPU."""

from typing import Tuple, Union

import numpy as np
import pytest

import kiln
import kiln.plugin as trtp
from conftest import has_gpu
from plugins_ptx import NONZERO_SERIAL_PTX

AotRet = Tuple[Union[str, bytes], Union[str, bytes], trtp.KernelLaunchParams, trtp.SymExprs]


def op_of(pid):
    ns, name = pid.split("::")
    return getattr(getattr(trtp.op, ns), name)


#===----------------------------------------------------------------------===#
# The API
#===----------------------------------------------------------------------===#


def test_size_tensor_desc():
    st = trtp.size_tensor(5, 10)
    assert isinstance(st, trtp.SizeTensorDesc) and isinstance(st, trtp.TensorDesc)
    assert st.is_size_tensor
    assert st.dtype == kiln.int32 and st.ndim == 0 and st.shape == ()
    assert st.opt.constant_value() == 5 and st.upper_bound.constant_value() == 10
    st.dtype = kiln.int64
    assert st.dtype == kiln.int64
    with pytest.raises(ValueError, match="INT32 or INT64"):
        st.dtype = kiln.float32
    assert not trtp.TensorDesc((2,), kiln.float32).is_size_tensor
    assert "SizeTensorDesc" in repr(st)


def test_size_tensor_expr_allows_no_arithmetic():
    st = trtp.size_tensor(trtp.ShapeExpr(4), trtp.ShapeExpr(8))
    e = st.expr()
    assert e is st.expr()
    assert isinstance(e, trtp.SizeTensorShapeExpr) and isinstance(e, trtp.ShapeExpr)
    assert e.is_size_tensor and not e.is_constant
    with pytest.raises(ValueError):
        e.constant_value()
    attempts = [
        lambda: e + 1, lambda: 1 + e, lambda: e - 1, lambda: 2 * e, lambda: e * e,
        lambda: e // 2, lambda: 7 // e, lambda: e % 3, lambda: -e, lambda: e == 1,
        lambda: e != 1, lambda: e < 2, lambda: e <= 2, lambda: e > 2, lambda: e >= 2,
        lambda: trtp.cdiv(e, 2), lambda: trtp.max(e, 1), lambda: trtp.min(1, e),
        lambda: trtp.ShapeExpr(3) * e, lambda: trtp.SymInt32(e),
        lambda: trtp.ShapeExprs.from_tuple((e, 2)).numel(),
    ]
    for attempt in attempts:
        with pytest.raises(TypeError, match="TRT limitation"):
            attempt()
    with pytest.raises(ValueError, match="truth value"):
        bool(e)
    assert "size_tensor(opt=4, upper_bound=8)" in str(e)


def test_size_tensor_bounds_are_checked():
    st = trtp.size_tensor(1, 2)
    with pytest.raises(ValueError, match="opt must not depend on a size tensor"):
        trtp.size_tensor(st.expr(), 10)
    with pytest.raises(ValueError, match="upper_bound must not depend on a size tensor"):
        trtp.size_tensor(1, st.expr())
    with pytest.raises(TypeError, match="opt must be an int or a ShapeExpr"):
        trtp.size_tensor(1.5, 2)
    with pytest.raises(TypeError, match="upper_bound"):
        trtp.size_tensor(1, "10")


def test_from_shape_expr_takes_a_size_tensor():
    st = trtp.size_tensor(2, 4)
    desc = trtp.from_shape_expr((st.expr(), 2), dtype=kiln.int32)
    assert desc.ndim == 2
    assert desc.shape_expr[0] is st.expr()
    assert desc.shape == (-1, 2)
    assert not desc.is_size_tensor


def test_exported_names():
    for name in ("size_tensor", "SizeTensorDesc", "SizeTensorShapeExpr"):
        assert name in trtp.__all__ and hasattr(trtp, name)


#===----------------------------------------------------------------------===#
# Building
#===----------------------------------------------------------------------===#


def define_nonzero(pid, count_dtype=None, return_size_tensor=True, seen=None):
    @trtp.register(pid)
    def desc(inp0: trtp.TensorDesc) -> Tuple[trtp.TensorDesc, trtp.TensorDesc]:
        n = inp0.shape_expr[0]
        st = trtp.size_tensor(n // 2, n)
        if count_dtype is not None:
            st.dtype = count_dtype
        indices = trtp.from_shape_expr((st.expr(),), dtype=kiln.int32)
        if not return_size_tensor:
            return indices, trtp.from_shape_expr((n,), dtype=kiln.int32)
        return indices, st

    @trtp.aot_impl(pid)
    def aot(inp0: trtp.TensorDesc, outputs: Tuple[trtp.TensorDesc, trtp.TensorDesc],
            tactic: int) -> AotRet:
        if seen is not None:
            seen.append((outputs[0].shape, outputs[0].shape_expr[0].is_size_tensor,
                         outputs[1].is_size_tensor, outputs[1].dtype))
        lp = trtp.KernelLaunchParams(grid_x=1, block_x=1)
        return "nonzero_serial", NONZERO_SERIAL_PTX, lp, trtp.SymIntExprs.from_tuple(
            [inp0.shape_expr[0]])


def build_nonzero(pid, consume=None, count_output=True, max_n=4096, min_n=1):
    builder, network = kiln.create_network()
    x = network.add_input("x", kiln.float32, (-1,))
    layer = network.add_plugin(op_of(pid)(x), aot=True)
    indices, count = layer.get_output(0), layer.get_output(1)
    indices.name = "indices"
    network.mark_output(indices)
    if count_output:
        count.name = "count"
        network.mark_output(count)
    if consume is not None:
        y = network.add_plugin(op_of(consume)(indices), aot=True).get_output(0)
        y.name = "y"
        network.mark_output(y)
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    profile.set_shape("x", (min_n,), (max(min_n, 1024),), (max_n,))
    config.add_optimization_profile(profile)
    return builder.build_serialized_network(network, config)


def test_build_plugin_with_a_size_tensor(uid):
    pid = uid("nonzero")
    seen = []
    define_nonzero(pid, count_dtype=kiln.int64, seen=seen)
    engine = build_nonzero(pid)
    text = kiln.inspect(engine)
    assert '"indices": int32 LINEAR [s2] (tensor 1), data-dependent: dim 0 <= 4096' in text
    assert '"count": int64 LINEAR [] (tensor 2), size tensor s2' in text
    assert "size tensors (1):" in text
    assert "at most 16384 bytes" in text  # the indices, planned at the bound
    # aot_impl sees the data-dependent dimension and the size tensor output.
    assert seen == [((-1,), True, True, kiln.int64)]
    info = kiln.inspect(engine, json=True)
    assert '"data_dependent": [{"dim": 0, "max": 4096}]' in info


def test_size_tensor_must_be_returned(uid):
    pid = uid("nonzero_lost")
    define_nonzero(pid, return_size_tensor=False)
    with pytest.raises(kiln.KilnError) as caught:
        build_nonzero(pid)
    message = str(caught.value)
    assert f"trtp.register('{pid}')" in message
    assert "uses a size tensor that is not among the returned outputs" in message


def test_consuming_a_data_dependent_tensor_is_refused(uid):
    pid = uid("nonzero_src")
    define_nonzero(pid)
    copy = uid("copy")

    @trtp.register(copy)
    def copy_desc(inp0: trtp.TensorDesc) -> trtp.TensorDesc:
        return inp0.like()

    @trtp.aot_impl(copy)
    def copy_aot(inp0: trtp.TensorDesc, outputs: Tuple[trtp.TensorDesc],
                 tactic: int) -> AotRet:
        raise AssertionError("not reached")

    with pytest.raises(NotImplementedError,
                       match="only network outputs may have data-dependent shapes"):
        build_nonzero(pid, consume=copy)


#===----------------------------------------------------------------------===#
# Running (GPU)
#===----------------------------------------------------------------------===#


@pytest.mark.skipif(not has_gpu(), reason="no CUDA GPU (kiln_device_create failed)")
@pytest.mark.parametrize("graphs", [False, True])
def test_run_nonzero_returns_trimmed_outputs(uid, graphs):
    pid = uid("nonzero_run")
    define_nonzero(pid)
    engine = kiln.Runtime().deserialize_cuda_engine(build_nonzero(pid, min_n=0))
    assert engine.get_tensor_shape("indices") == (-1,)
    context = engine.create_execution_context(graphs=graphs)
    rng = np.random.default_rng(7)
    for n, pattern in [(0, "any"), (1, "zeros"), (1, "ones"), (1000, "zeros"),
                       (1000, "ones"), (4096, "random"), (777, "random")]:
        if pattern == "zeros":
            x = np.zeros(n, dtype=np.float32)
        elif pattern == "ones":
            x = np.arange(1, n + 1, dtype=np.float32)
        else:
            x = rng.standard_normal(n).astype(np.float32)
            x[rng.random(n) < 0.6] = 0.0
        want = np.nonzero(x)[0].astype(np.int32)
        out = context.run({"x": x})
        np.testing.assert_array_equal(out["indices"], want)
        assert out["indices"].shape == (len(want),)
        assert int(out["count"]) == len(want)
        # Before a run the shape is unknown; after it, read_output_shape says.
        context.set_input_shape("x", (n,))
        assert context.get_tensor_shape("indices") == (-1,)
        assert context.get_max_output_size("indices") == 4 * n
    assert context.read_output_shape("count") == ()


def test_run_trims_data_dependent_outputs_without_a_gpu():
    """context.run's helpers, with a stand-in context: a data-dependent
    output is allocated flat at its upper bound and viewed at the shape the
    run produced."""
    from kiln import _runtime

    class Engine:
        def get_tensor_dtype(self, name):
            return kiln.int32

    class Context:
        engine = Engine()
        reads = []

        def get_tensor_shape(self, name):
            return (-1, 2) if name == "indices" else (3,)

        def get_max_output_size(self, name):
            return 40 if name == "indices" else 12

        def read_output_shape(self, name, stream=0):
            self.reads.append((name, stream))
            return (3, 2)

    context = Context()
    assert _runtime._alloc_shape(context, "indices") == (10,)
    assert _runtime._alloc_shape(context, "y") == (3,)
    result = {"indices": np.arange(10, dtype=np.int32), "y": np.zeros(3, np.int32)}
    out = _runtime._trim_data_dependent(context, result, 5)
    assert out["indices"].shape == (3, 2)
    np.testing.assert_array_equal(out["indices"].ravel(), np.arange(6))
    assert out["y"].shape == (3,)
    assert context.reads == [("indices", 5)]
