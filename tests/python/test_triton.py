"""The seed's Triton kernel, compiled for sm_90 with no GPU, built into an engine."""

import os
from typing import Tuple, Union

import pytest

import kiln as trt
import kiln.plugin as trtp

os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
triton = pytest.importorskip("triton", reason="Triton is not installed")
tl = pytest.importorskip("triton.language")
from triton.backends.compiler import GPUTarget  # noqa: E402

AotRet = Tuple[Union[str, bytes], Union[str, bytes], trtp.KernelLaunchParams, trtp.SymExprs]


@triton.jit
def add_kernel(x_ptr, n_elements, y_ptr, BLOCK_SIZE: tl.constexpr):
    pid = tl.program_id(0)
    offsets = pid * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    mask = offsets < n_elements
    x = tl.load(x_ptr + offsets, mask=mask)
    tl.store(y_ptr + offsets, x + 1, mask=mask)


def compile_add(type_str, block_size):
    src = triton.compiler.ASTSource(
        fn=add_kernel,
        signature={"x_ptr": f"*{type_str}", "n_elements": "i32", "y_ptr": f"*{type_str}"},
        constexprs={"BLOCK_SIZE": block_size},
    )
    return triton.compile(src, target=GPUTarget("cuda", 90, 32))


def define(pid, return_compiled_kernel):
    @trtp.register(pid)
    def add_plugin_desc(inp0: trtp.TensorDesc, block_size: int) -> Tuple[trtp.TensorDesc]:
        return inp0.like()

    @trtp.aot_impl(pid)
    def add_plugin_aot_impl(inp0: trtp.TensorDesc, block_size: int,
                            outputs: Tuple[trtp.TensorDesc], tactic: int) -> AotRet:
        type_str = "fp32" if inp0.dtype == trt.float32 else "fp16"
        compiled_kernel = compile_add(type_str, block_size)
        N = inp0.shape_expr.numel()
        launch_params = trtp.KernelLaunchParams()
        launch_params.grid_x = trtp.cdiv(N, block_size)
        launch_params.block_x = compiled_kernel.metadata.num_warps * 32
        launch_params.shared_mem = compiled_kernel.metadata.shared
        extra_args = trtp.SymIntExprs(1)
        extra_args[0] = trtp.SymInt32(N)
        kernel = compiled_kernel if return_compiled_kernel else compiled_kernel.asm["ptx"]
        return compiled_kernel.metadata.name, kernel, launch_params, extra_args


def build(pid, sm_archs=None):
    ns, name = pid.split("::")
    builder, network = trt.create_network()
    x = network.add_input("x", trt.float32, (-1,))
    layer = network.add_plugin(getattr(getattr(trtp.op, ns), name)(x, block_size=1024), aot=True)
    out = layer.get_output(0)
    out.name = "y"
    network.mark_output(out)
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    profile.set_shape("x", (1,), (4096,), (1 << 24,))
    config.add_optimization_profile(profile)
    if sm_archs is not None:
        config.sm_archs = sm_archs
    return builder.build_serialized_network(network, config)


def test_seed_kernel_as_ptx_string(uid):
    pid = uid("add_plugin")
    define(pid, return_compiled_kernel=False)
    text = trt.inspect(build(pid))
    assert "kernel 0 add_kernel" in text
    assert "grid = (cdiv(x[0], 1024), 1, 1)" in text
    assert "block = (128, 1, 1)" in text
    assert "arg 0: int32 = x[0]" in text
    # Triton's two hidden trailing scratch pointers are recognised by the core.
    assert "global_scratch" in text and "profile_scratch" in text


def test_seed_kernel_as_compiled_kernel_for_sm90(uid):
    pid = uid("add_plugin")
    define(pid, return_compiled_kernel=True)
    text = trt.inspect(build(pid, sm_archs=[90]))
    assert "cubin for sm_90" in text
    assert "PTX for sm_90" in text
    assert "global_scratch" in text
