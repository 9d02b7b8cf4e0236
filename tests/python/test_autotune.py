"""AutoTuneCombination: the | / * grammar, expanded by the C core."""

import pytest

import kiln
import kiln.plugin as trtp

F, H = kiln.float32, kiln.float16


def types_of(combos):
    return [c[0] for c in combos]


def test_dependent_and_independent_entries():
    c = trtp.AutoTuneCombination("FP32|FP16, FP32|FP16, FP32*FP16")
    assert sorted(types_of(c.expand(3))) == sorted([(F, F, F), (H, H, F), (F, F, H), (H, H, H)])


def test_layouts_broadcast_and_tactics():
    c = trtp.AutoTuneCombination("FP32, FP32", "LINEAR", tactics=[1, 2])
    [(types, formats, tactics)] = c.expand(2)
    assert types == (F, F)
    assert formats == (kiln.TensorFormat.LINEAR,) * 2
    assert tactics == (1, 2)


def test_b1_pos_takes_an_int_or_a_list():
    c = trtp.AutoTuneCombination()
    c.pos(0, "FP32|FP16")
    c.pos([1], "FP32|FP16")
    assert sorted(types_of(c.expand(2))) == sorted([(F, F), (H, H)])
    with pytest.raises(ValueError, match="position 1 is already set"):
        c.pos(1, "FP32")


def test_b6_unknown_type_name_is_a_value_error():
    with pytest.raises(ValueError, match="FP33"):
        trtp.AutoTuneCombination("FP33, FP32")
    with pytest.raises(ValueError, match="mixes"):
        trtp.AutoTuneCombination("FP32|FP16*FP32")


def test_duplicate_combinations_union_tactics():
    from kiln.plugin._tensor import expand
    a = trtp.AutoTuneCombination("FP32, FP32", tactics=[1])
    b = trtp.AutoTuneCombination("FP32, FP32", tactics=[2])
    [(_, _, tactics)] = expand([a, b], 2)
    assert sorted(tactics) == [1, 2]


def test_missing_positions_are_named():
    c = trtp.AutoTuneCombination().pos(0, "FP32")
    with pytest.raises(ValueError, match=r"missing \[1\]"):
        c.expand(2)
