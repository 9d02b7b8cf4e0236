"""Attributes that aot_impl, impl or autotune declare but trtp.register does
not (the seed's ``single_tactic: bool``): kiln adds them to the plugin's
attributes, with a warning; the layer gives them, or their default is used."""

import logging
from typing import List, Tuple, Union

import numpy as np
import numpy.typing as npt
import pytest

import kiln
import kiln.plugin as trtp
from plugins_ptx import SCALE_PTX

AotRet = Tuple[Union[str, bytes], Union[str, bytes], trtp.KernelLaunchParams, trtp.SymExprs]


def op_of(pid):
    ns, name = pid.split("::")
    return getattr(getattr(trtp.op, ns), name)


def define(pid, seen):
    """register(inp0, block_size) and an aot_impl that also takes
    single_tactic: bool (no default); records what each function receives."""

    @trtp.register(pid)
    def add_plugin_desc(inp0: trtp.TensorDesc, block_size: int) -> Tuple[trtp.TensorDesc]:
        seen.append(("register", block_size))
        return inp0.like()

    @trtp.aot_impl(pid)
    def add_plugin_aot_impl(inp0: trtp.TensorDesc, block_size: int, single_tactic: bool,
                            outputs: Tuple[trtp.TensorDesc], tactic: int) -> AotRet:
        seen.append(("aot_impl", block_size, single_tactic))
        n = inp0.shape_expr.numel()
        lp = trtp.KernelLaunchParams(grid_x=trtp.cdiv(n, block_size), block_x=128)
        return "scale", SCALE_PTX, lp, trtp.SymIntExprs.from_tuple([n])


def _desc(inp0: trtp.TensorDesc, block_size: int) -> Tuple[trtp.TensorDesc]:
    return inp0.like()


def build(call):
    return kiln.build(call, {"x": (kiln.float32, (-1,))}, profiles={"x": ((1,), (8,), (64,))})


def test_aot_impl_attribute_extends_the_schema_with_a_warning(uid, caplog):
    pid = uid("add_plugin")
    seen = []
    with caplog.at_level(logging.WARNING, logger="kiln"):
        define(pid, seen)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    msg = warnings[0]
    assert pid in msg and "add_plugin_aot_impl" in msg and "'single_tactic: bool'" in msg
    assert "trtp.aot_impl" in msg
    pdef = op_of(pid)
    assert [a.name for a in pdef.attrs] == ["block_size", "single_tactic"]
    assert pdef.register_attr_names == ["block_size"]

    text = kiln.inspect(build(lambda x: op_of(pid)(x, block_size=256, single_tactic=True)))
    assert "grid = (cdiv(x[0], 256), 1, 1)" in text
    # describe gets register's attributes only; aot_impl gets both.
    assert ("register", 256) in seen
    assert ("aot_impl", 256, True) in seen
    assert all(len(s) == 2 for s in seen if s[0] == "register")


def test_extension_attribute_must_be_given_when_it_has_no_default(uid):
    pid = uid("add_plugin")
    define(pid, [])
    _, net = kiln.create_network()
    x = net.add_input("x", kiln.float32, (-1,))
    with pytest.raises(ValueError) as info:
        op_of(pid)(x, block_size=256)
    msg = str(info.value)
    assert "missing single_tactic" in msg
    assert f"declared by trtp.aot_impl('{pid}')" in msg and "add_plugin_aot_impl" in msg
    with pytest.raises(TypeError, match="'single_tactic' must be bool, got int"):
        op_of(pid)(x, block_size=256, single_tactic=1)
    with pytest.raises(ValueError, match="keep the declared order"):
        op_of(pid)(x, single_tactic=True, block_size=256)
    with pytest.raises(ValueError, match="unknown bogus"):
        op_of(pid)(x, block_size=256, single_tactic=True, bogus=1)


def test_default_value_is_used_when_left_out(uid):
    pid = uid()
    seen = []

    @trtp.register(pid)
    def desc(inp0: trtp.TensorDesc, block_size: int) -> trtp.TensorDesc:
        return inp0.like()

    # New attributes may sit anywhere among the attributes; one with a
    # default makes Python want defaults on outputs/tactic too (ignored).
    @trtp.aot_impl(pid)
    def aot(inp0, single_tactic: bool, block_size: int, mode: str = "fast", outputs=(),
            tactic=0) -> AotRet:
        seen.append((single_tactic, block_size, mode))
        n = inp0.shape_expr.numel()
        lp = trtp.KernelLaunchParams(grid_x=trtp.cdiv(n, block_size), block_x=128)
        return "scale", SCALE_PTX, lp, trtp.SymIntExprs.from_tuple([n])

    assert [a.name for a in op_of(pid).attrs] == ["block_size", "single_tactic", "mode"]
    build(lambda x: op_of(pid)(x, block_size=64, single_tactic=False))
    build(lambda x: op_of(pid)(x, block_size=32, single_tactic=True, mode="small"))
    assert (False, 64, "fast") in seen and (True, 32, "small") in seen


def test_default_must_have_the_annotated_type(uid):
    pid = uid()
    trtp.register(pid)(_desc)
    with pytest.raises(TypeError, match="default of parameter 'mode'.*must be str, got int"):
        @trtp.aot_impl(pid)
        def aot(inp0, block_size: int, mode: str = 3, outputs=(), tactic=0) -> AotRet:
            pass
    assert [a.name for a in op_of(pid).attrs] == ["block_size"]  # nothing was added


def test_defaults_stay_refused_elsewhere(uid):
    pid = uid()
    trtp.register(pid)(_desc)
    with pytest.raises(ValueError, match="parameter 'block_size': default values are not"):
        @trtp.aot_impl(pid)
        def aot(inp0, block_size: int = 4, outputs=(), tactic=0) -> AotRet:
            pass
    with pytest.raises(ValueError, match="parameter 'tactic': default values are not"):
        @trtp.aot_impl(pid)
        def aot2(inp0, block_size: int, outputs, tactic=0) -> AotRet:
            pass


def test_registered_subset_keeps_its_order_with_new_attributes(uid):
    pid = uid()

    @trtp.register(pid)
    def desc(inp0: trtp.TensorDesc, a: int, b: float) -> trtp.TensorDesc:
        return inp0.like()
    with pytest.raises(ValueError, match="attributes must keep the order"):
        @trtp.aot_impl(pid)
        def aot(inp0, b: float, extra: bool, a: int, outputs, tactic) -> AotRet:
            pass


def test_unannotated_or_reserved_new_attribute_is_an_error(uid):
    pid = uid()
    trtp.register(pid)(_desc)
    with pytest.raises(ValueError) as info:
        @trtp.autotune(pid)
        def tune(inp0, block_size: int, flavour, outputs) -> List[trtp.AutoTuneCombination]:
            pass
    msg = str(info.value)
    assert "'flavour' is not an attribute" in msg and pid in msg and "tune" in msg
    assert "annotate it" in msg
    with pytest.raises(TypeError, match="attribute 'flavour' has annotation list"):
        @trtp.autotune(pid)
        def tune2(inp0, flavour: list, outputs):
            pass
    with pytest.raises(ValueError, match="'stream'.* reserved"):
        @trtp.aot_impl(pid)
        def aot(inp0, stream: int, outputs, tactic) -> AotRet:
            pass


def test_functions_share_a_new_attribute_and_must_agree(uid, caplog):
    pid = uid()
    trtp.register(pid)(_desc)
    seen = []

    @trtp.autotune(pid)
    def tune(inp0, pads: npt.NDArray[np.int32], outputs):
        seen.append(("autotune", pads.tolist()))
        return [trtp.AutoTuneCombination("FP32, FP32")]

    with pytest.raises(TypeError, match="'pads' is annotated .*but trtp.autotune"):
        @trtp.aot_impl(pid)
        def bad(inp0, pads: npt.NDArray[np.int64], outputs, tactic) -> AotRet:
            pass

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="kiln"):
        @trtp.aot_impl(pid)  # unannotated: the attribute autotune added
        def aot(inp0, block_size: int, pads, outputs, tactic) -> AotRet:
            seen.append(("aot_impl", block_size, pads.tolist()))
            n = inp0.shape_expr.numel()
            lp = trtp.KernelLaunchParams(grid_x=trtp.cdiv(n, block_size), block_x=128)
            return "scale", SCALE_PTX, lp, trtp.SymIntExprs.from_tuple([n])
    assert not caplog.records  # warned once, when autotune added it
    assert [a.name for a in op_of(pid).attrs] == ["block_size", "pads"]
    build(lambda x: op_of(pid)(x, block_size=16, pads=np.array([1, 2], np.int32)))
    assert ("autotune", [1, 2]) in seen and ("aot_impl", 16, [1, 2]) in seen


def test_new_attributes_after_first_use_are_refused(uid):
    pid = uid()
    define(pid, [])
    _, net = kiln.create_network()
    op_of(pid)(net.add_input("x", kiln.float32, (4,)), block_size=4, single_tactic=True)
    with pytest.raises(RuntimeError, match="has been used already"):
        @trtp.autotune(pid)
        def tune(inp0, extra: int, outputs):
            pass


def test_impl_may_add_an_attribute(uid):
    pid = uid()
    trtp.register(pid)(_desc)

    @trtp.impl(pid)
    def host(inp0: trtp.Tensor, block_size: int, scale: float = 1.5, outputs=(), stream=0):
        pass
    spec = op_of(pid)._attr("scale")
    assert spec.default == 1.5 and spec.declared_by.startswith(f"trtp.impl('{pid}')")
    _, net = kiln.create_network()
    call = op_of(pid)(net.add_input("x", kiln.float32, (4,)), block_size=4)
    assert call.attrs == {"block_size": 4, "scale": 1.5}
