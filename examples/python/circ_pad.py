"""Circular padding with AOT and two tactics: TensorRT 11.1's circ_pad sample
(samples/python/quickly_deployable_plugins, --mode inetdef --multi_tactic
--aot) on kiln.

The ``pads`` attribute is a numpy int32 array; autotune offers FP32 and FP16
and two tactics (BLOCK_SIZE 256 and 1024), which the builder times on a GPU
(without one it keeps the first). Two engines are built for an input of shape
(10, 3, 32, 32): one fp32, one fp16. Each is saved and run in a fresh
process with no plugin definitions (run_engine.py) and compared with
``np.pad(x, ..., mode="wrap")`` on a GPU; without a GPU it is inspected.

    python examples/python/circ_pad.py [OUTPUT_DIR]
"""

import os
import subprocess
import sys
import tempfile
from enum import IntEnum
from typing import Tuple, Union

import numpy as np
import numpy.typing as npt

# Triton 3.9 warns when this is unset; 1 keeps its long-standing default.
os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
import triton  # noqa: E402
import triton.language as tl  # noqa: E402
from triton.backends.compiler import GPUTarget  # noqa: E402

import kiln as trt  # noqa: E402
import kiln.plugin as trtp  # noqa: E402

PADS = np.array((1, 1, 1, 1), np.int32)
SHAPE = (10, 3, 32, 32)


def compile_for_build(src):
    """triton.compile(src) where there is a GPU; sm_90 when there is none."""
    if trt.has_gpu():
        return triton.compile(src)
    return triton.compile(src, target=GPUTarget("cuda", 90, 32))


@triton.jit
def circ_pad_kernel(
    # input tensor
    X,
    # extra scalar args in between input and output tensors
    all_pads_0, all_pads_2, all_pads_4, all_pads_6,
    orig_dims_0, orig_dims_1, orig_dims_2, orig_dims_3,
    Y_shape_1, Y_shape_2, Y_shape_3,
    X_len, Y_len,
    # output tensor
    Y,
    BLOCK_SIZE: tl.constexpr,
):
    pid = tl.program_id(0)
    i = pid * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)

    mask_y = i < Y_len

    i3 = i % Y_shape_3
    i2 = (i // Y_shape_3) % Y_shape_2
    i1 = (i // Y_shape_3 // Y_shape_2) % Y_shape_1
    i0 = i // Y_shape_3 // Y_shape_2 // Y_shape_1

    j0 = (i0 - all_pads_0 + orig_dims_0) % orig_dims_0
    j1 = (i1 - all_pads_2 + orig_dims_1) % orig_dims_1
    j2 = (i2 - all_pads_4 + orig_dims_2) % orig_dims_2
    j3 = (i3 - all_pads_6 + orig_dims_3) % orig_dims_3

    load_idx = (orig_dims_3 * orig_dims_2 * orig_dims_1 * j0 + orig_dims_3 * orig_dims_2 * j1
                + orig_dims_3 * j2 + j3)
    mask_x = load_idx < X_len

    x = tl.load(X + load_idx, mask=mask_x)

    tl.store(Y + i, x, mask=mask_y)


@trtp.register("sample::circ_pad_plugin")
def circ_pad_plugin_desc(inp0: trtp.TensorDesc, pads: npt.NDArray[np.int32]) -> trtp.TensorDesc:
    ndim = inp0.ndim
    out_desc = inp0.like()

    for i in range(np.size(pads) // 2):
        out_desc.shape_expr[ndim - i - 1] += int(pads[i * 2] + pads[i * 2 + 1])

    return out_desc


class Tactic(IntEnum):
    BLOCK_256 = 1
    BLOCK_1024 = 2


@trtp.autotune("sample::circ_pad_plugin")
def circ_pad_plugin_autotune(
    inp0: trtp.TensorDesc, outputs: Tuple[trtp.TensorDesc]
) -> list:
    c = trtp.AutoTuneCombination()
    c.pos([0, 1], "FP32|FP16")
    c.tactics([int(Tactic.BLOCK_256), int(Tactic.BLOCK_1024)])
    return [c]


def _compile_circ_pad_aot(inp0: trtp.TensorDesc, pads, outputs, block_size: int):
    inp_dims = inp0.shape_expr
    out_dims = outputs[0].shape_expr

    # All pads, last dimension first, for the N dimensions (zeros where none).
    all_pads = np.zeros((inp0.ndim * 2,), dtype=np.int32)
    for i in range(np.size(pads) // 2):
        all_pads[inp0.ndim * 2 - 2 * i - 2] = pads[i * 2]
        all_pads[inp0.ndim * 2 - 2 * i - 1] = pads[i * 2 + 1]
    all_pads = all_pads.tolist()

    extra_args = trtp.SymIntExprs.from_tuple([
        trtp.SymInt32(e) for e in [
            all_pads[0], all_pads[2], all_pads[4], all_pads[6],
            inp_dims[0], inp_dims[1], inp_dims[2], inp_dims[3],
            out_dims[1], out_dims[2], out_dims[3],
            inp_dims.numel(), out_dims.numel(),
        ]
    ])

    type_str = "fp32" if inp0.dtype == trt.float32 else "fp16"

    src = triton.compiler.ASTSource(
        fn=circ_pad_kernel,
        signature={
            "X": f"*{type_str}",
            **{f"all_pads_{i}": "i32" for i in (0, 2, 4, 6)},
            **{f"orig_dims_{i}": "i32" for i in range(4)},
            **{f"Y_shape_{i}": "i32" for i in (1, 2, 3)},
            "X_len": "i32",
            "Y_len": "i32",
            "Y": f"*{type_str}",
        },
        constexprs={"BLOCK_SIZE": block_size},
    )
    compiled_kernel = compile_for_build(src)

    launch_params = trtp.KernelLaunchParams()
    launch_params.grid_x = trtp.cdiv(out_dims.numel(), block_size)
    launch_params.block_x = compiled_kernel.metadata.num_warps * 32
    launch_params.shared_mem = compiled_kernel.metadata.shared

    return (compiled_kernel.metadata.name.encode(), compiled_kernel.asm["ptx"].encode(),
            launch_params, extra_args)


@trtp.aot_impl("sample::circ_pad_plugin")
def circ_pad_plugin_aot_impl(
    inp0: trtp.TensorDesc, pads: npt.NDArray[np.int32], outputs: Tuple[trtp.TensorDesc],
    tactic: int
) -> Tuple[Union[str, bytes], Union[str, bytes], trtp.KernelLaunchParams, trtp.SymExprs]:
    block_size = {Tactic.BLOCK_256: 256, Tactic.BLOCK_1024: 1024}[Tactic(tactic)]
    return _compile_circ_pad_aot(inp0, pads, outputs, block_size)


def build_engine(dtype) -> bytes:
    builder, network = trt.create_network(strongly_typed=True)
    i_x = network.add_input("x", dtype, SHAPE)
    out = network.add_plugin(trtp.op.sample.circ_pad_plugin(i_x, pads=PADS), aot=True)
    out.get_output(0).name = "y"
    network.mark_output(out.get_output(0))
    return builder.build_serialized_network(network, builder.create_builder_config())


def reference(x: np.ndarray) -> np.ndarray:
    # pads are (before, after) pairs from the last dimension backwards.
    widths = [(0, 0)] * x.ndim
    for i in range(PADS.size // 2):
        widths[x.ndim - 1 - i] = (int(PADS[2 * i]), int(PADS[2 * i + 1]))
    return np.pad(x, widths, mode="wrap")


def main(argv):
    out_dir = argv[1] if len(argv) > 1 else "."
    os.makedirs(out_dir, exist_ok=True)
    runner = os.path.join(os.path.dirname(os.path.abspath(__file__)), "run_engine.py")
    failed = 0
    for dtype, tag in ((trt.float32, "fp32"), (trt.float16, "fp16")):
        path = os.path.join(out_dir, f"circ_pad_{tag}.engine")
        engine = build_engine(dtype)
        with open(path, "wb") as f:
            f.write(engine)
        print(f"circ_pad: built {path} ({len(engine)} bytes)", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            results = os.path.join(tmp, "io.npz")
            subprocess.run([sys.executable, runner, path, "--save", results], check=True)
            if not os.path.exists(results):
                continue  # no GPU: inspected only
            io = np.load(results)
            x, y = io["x"], io["y"]
            want = reference(x)
            if y.shape != want.shape or not np.array_equal(y, want):
                print(f"circ_pad: {tag} FAILED: got {y.shape}, expected {want.shape}; "
                      f"{int(np.sum(y != want)) if y.shape == want.shape else 'all'} "
                      "elements differ")
                failed += 1
            else:
                print(f"circ_pad: {tag} OK, y == np.pad(x, mode='wrap'), shape {y.shape}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
