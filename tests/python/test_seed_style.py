"""Plugin code in the seed's style: string annotations, Tuple/Union."""

from __future__ import annotations

from typing import Tuple, Union

import kiln as trt
import kiln.plugin as trtp
from plugins_ptx import SCALE_PTX


def test_string_annotations_are_resolved(uid):
    pid = uid("add_plugin")

    @trtp.register(pid)
    def add_plugin_desc(inp0: trtp.TensorDesc, block_size: int) -> Tuple[trtp.TensorDesc]:
        return inp0.like()

    @trtp.aot_impl(pid)
    def add_plugin_aot_impl(
        inp0: trtp.TensorDesc, block_size: int, outputs: Tuple[trtp.TensorDesc], tactic: int
    ) -> Tuple[Union[str, bytes], Union[str, bytes], trtp.KernelLaunchParams, trtp.SymExprs]:
        N = inp0.shape_expr.numel()
        launch_params = trtp.KernelLaunchParams()
        launch_params.grid_x = trtp.cdiv(N, block_size)
        launch_params.block_x = 128
        extra_args = trtp.SymIntExprs(1)
        extra_args[0] = trtp.SymInt32(N)
        return "scale", SCALE_PTX, launch_params, extra_args

    ns, name = pid.split("::")
    builder = trt.Builder(trt.Logger(trt.Logger.WARNING))
    network = builder.create_network()
    x = network.add_input("x", trt.DataType.FLOAT, (-1,))
    out = network.add_plugin(getattr(getattr(trtp.op, ns), name)(x, block_size=512), aot=True)
    out.get_output(0).name = "y"
    network.mark_output(out.get_output(0))
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    profile.set_shape("x", (1,), (8,), (64,))
    config.add_optimization_profile(profile)
    text = trt.inspect(builder.build_serialized_network(network, config))
    assert "grid = (cdiv(x[0], 512), 1, 1)" in text
