"""Registration and validation, with messages naming the culprit."""

from typing import Tuple, Union

import numpy as np
import numpy.typing as npt
import pytest

import kiln
import kiln.plugin as trtp

AotRet = Tuple[Union[str, bytes], Union[str, bytes], trtp.KernelLaunchParams, trtp.SymExprs]


def _desc(inp0: trtp.TensorDesc, block_size: int) -> Tuple[trtp.TensorDesc]:
    return inp0.like()


@pytest.mark.parametrize("bad", ["noseparator", "trt::x", "std::x", "a.b::c", "a::b.c", "::x",
                                 "a::"])
def test_invalid_id_is_refused_naming_it(bad):
    with pytest.raises(ValueError, match="register") as info:
        trtp.register(bad)
    assert bad in str(info.value)


def test_duplicate_id_is_refused(uid):
    pid = uid()
    trtp.register(pid)(_desc)
    with pytest.raises(ValueError, match="already has a definition") as info:
        trtp.register(pid)(_desc)
    assert pid in str(info.value)


def test_registered_plugin_is_reachable_as_op(uid):
    pid = uid("thing")
    trtp.register(pid)(_desc)
    ns, name = pid.split("::")
    assert getattr(getattr(trtp.op, ns), name).plugin_id == pid


def test_missing_annotation_names_parameter(uid):
    def f(inp0: trtp.TensorDesc, block_size) -> trtp.TensorDesc:
        return inp0.like()
    with pytest.raises(TypeError, match="'block_size' needs a type annotation"):
        trtp.register(uid())(f)


def test_unsupported_attribute_type_names_parameter(uid):
    def f(inp0: trtp.TensorDesc, pads: list) -> trtp.TensorDesc:
        return inp0.like()
    pid = uid()
    with pytest.raises(TypeError) as info:
        trtp.register(pid)(f)
    msg = str(info.value)
    assert "'pads'" in msg and pid in msg and ".f'" in msg


def test_first_parameter_must_be_a_tensor(uid):
    def f(block_size: int, inp0: trtp.TensorDesc) -> trtp.TensorDesc:
        return inp0
    with pytest.raises(ValueError, match="first parameter 'block_size'"):
        trtp.register(uid())(f)


def test_reserved_attribute_names(uid):
    def f(inp0: trtp.TensorDesc, tactic: int) -> trtp.TensorDesc:
        return inp0
    with pytest.raises(ValueError, match="reserved"):
        trtp.register(uid())(f)


def test_return_annotation_is_required_and_fixed_length(uid):
    def f(inp0: trtp.TensorDesc):
        return inp0
    with pytest.raises(TypeError, match="return annotation"):
        trtp.register(uid())(f)

    def g(inp0: trtp.TensorDesc) -> Tuple[trtp.TensorDesc, ...]:
        return inp0
    with pytest.raises(TypeError, match="fixed-length"):
        trtp.register(uid())(g)


def test_aot_impl_for_unknown_id_names_both_ids(uid):
    pid = uid("add_plugin")
    trtp.register(pid)(_desc)
    typo = pid.replace("add_plugin", "elemwise_add_plugin")
    with pytest.raises(ValueError) as info:
        trtp.aot_impl(typo)
    msg = str(info.value)
    assert typo in msg and pid in msg
    assert isinstance(info.value, LookupError)


def test_aot_impl_with_undeclared_unannotated_attribute_names_it(uid):
    # Annotated, such a parameter adds an attribute (test_extra_attrs.py);
    # without an annotation it is an error naming plugin, function, parameter.
    pid = uid()
    trtp.register(pid)(_desc)
    with pytest.raises(ValueError, match="'single_tactic' is not an attribute") as info:
        @trtp.aot_impl(pid)
        def impl(inp0: trtp.TensorDesc, block_size: int, single_tactic,
                 outputs: Tuple[trtp.TensorDesc], tactic: int) -> AotRet:
            pass
    assert pid in str(info.value) and ".impl'" in str(info.value)


def test_aot_impl_input_names_must_match(uid):
    pid = uid()
    trtp.register(pid)(_desc)
    with pytest.raises(ValueError, match=r"inputs \(inp0\)"):
        @trtp.aot_impl(pid)
        def impl(x: trtp.TensorDesc, outputs, tactic) -> AotRet:
            pass


def test_aot_impl_annotation_must_agree(uid):
    pid = uid()
    trtp.register(pid)(_desc)
    with pytest.raises(TypeError, match="'block_size' is annotated float"):
        @trtp.aot_impl(pid)
        def impl(inp0, block_size: float, outputs, tactic):
            pass


def test_aot_impl_return_annotation_checked(uid):
    pid = uid()
    trtp.register(pid)(_desc)
    with pytest.raises(TypeError, match="return annotation"):
        @trtp.aot_impl(pid)
        def impl(inp0, outputs, tactic) -> Tuple[str, str]:
            pass


def test_op_call_checks_attribute_types_exactly(uid):
    pid = uid("scaler")
    trtp.register(pid)(_desc)
    ns, name = pid.split("::")
    plugin = getattr(getattr(trtp.op, ns), name)
    _, net = kiln.create_network()
    x = net.add_input("x", kiln.float32, (4,))
    with pytest.raises(TypeError) as info:
        plugin(x, block_size=256.0)
    msg = str(info.value)
    assert "block_size" in msg and "int" in msg and "float" in msg and name in msg
    with pytest.raises(TypeError, match="block_size"):
        plugin(x, block_size=np.int64(256))
    with pytest.raises(ValueError, match="missing block_size"):
        plugin(x)
    with pytest.raises(ValueError, match="unknown bogus"):
        plugin(x, block_size=1, bogus=2)
    with pytest.raises(TypeError, match="input 'inp0'"):
        plugin("x", block_size=1)


def test_ndarray_attribute_checked(uid):
    pid = uid("pad")

    @trtp.register(pid)
    def desc(inp0: trtp.TensorDesc, pads: npt.NDArray[np.int32]) -> trtp.TensorDesc:
        return inp0.like()
    ns, name = pid.split("::")
    plugin = getattr(getattr(trtp.op, ns), name)
    _, net = kiln.create_network()
    x = net.add_input("x", kiln.float32, (4,))
    with pytest.raises(TypeError, match="dtype int32"):
        plugin(x, pads=np.array([1, 1], np.int64))
    assert plugin(x, pads=np.array([1, 1], np.int32)) is not None


def test_bare_ndarray_needs_lazy_register(uid):
    def desc(inp0: trtp.TensorDesc, pads: np.ndarray) -> trtp.TensorDesc:
        return inp0.like()
    with pytest.raises(TypeError, match="lazy_register"):
        trtp.register(uid())(desc)
    trtp.register(uid(), lazy_register=True)(desc)


def test_impl_is_accepted(uid):
    pid = uid()
    trtp.register(pid)(_desc)

    @trtp.impl(pid)
    def f(inp0, block_size, outputs, stream):
        pass
