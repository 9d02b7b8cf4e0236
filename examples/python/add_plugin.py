"""The seed's Triton example (tensorrt.plugin.aot_impl's docstring) on kiln.

The seed's code below is verbatim except for
  * its imports: ``import kiln as trt``, ``import kiln.plugin as trtp`` and
    ``import kiln.triton as triton`` instead of ``import tensorrt.plugin as
    trtp`` and ``import triton`` (plus ``typing``'s Tuple/Union and ``trt``,
    which the seed uses without importing);
  * its plugin-id typo: it registers "my::add_plugin" but decorates
    ``aot_impl("my::elemwise_add_plugin")``; here both say "my::add_plugin".
    Kept, it fails with an error naming both ids.

Nothing else needs to change:
  * its aot_impl takes ``single_tactic: bool``, which trtp.register does not
    declare: kiln adds it to the plugin's attributes (with a warning) and the
    layer gives it, ``trtp.op.my.add_plugin(x, block_size=256,
    single_tactic=True)``;
  * current Triton (>= 3.2) rejects the seed's string ``signature=`` and
    ``constants=``; ``kiln.triton.compiler.ASTSource`` translates them into
    the dict ``signature=`` and ``constexprs=`` it wants;
  * ``triton.compile(src)`` picks the GPU's architecture; with no GPU this
    script sets ``KILN_TRITON_TARGET=cuda:90`` so that kiln.triton compiles
    for sm_90 (the PTX also runs on newer GPUs).

Then it builds an engine for a dynamic 1-D input (profile 1..2^20), saves it
(to the path given on the command line, default add_plugin.engine), and runs
it in a fresh Python process that has no plugin definitions
(run_engine.py): on a GPU it checks y == x + 1; without one it prints what
``kiln.inspect`` says about the engine.

    python examples/python/add_plugin.py [ENGINE]
"""

import os
import subprocess
import sys
import tempfile

import numpy as np

# Triton 3.9 warns when this is unset; 1 keeps its long-standing default.
os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")

# ---- the seed: imports changed, plugin ids matched, nothing else -------------

import kiln as trt
import kiln.plugin as trtp
import kiln.triton as triton
import triton.language as tl
from typing import Tuple, Union

@triton.jit
def add_kernel(x_ptr, n_elements, y_ptr, BLOCK_SIZE: tl.constexpr):
    pid = tl.program_id(0)
    offsets = pid * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    mask = offsets < n_elements
    x = tl.load(x_ptr + offsets, mask=mask)
    tl.store(y_ptr + offsets, x + 1, mask=mask)

@trtp.register("my::add_plugin")
def add_plugin_desc(inp0: trtp.TensorDesc, block_size: int) -> Tuple[trtp.TensorDesc]:
    return inp0.like()

@trtp.aot_impl("my::add_plugin")
def add_plugin_aot_impl(
    inp0: trtp.TensorDesc, block_size: int, single_tactic: bool, outputs: Tuple[trtp.TensorDesc], tactic: int
) -> Tuple[Union[str, bytes], Union[str, bytes], trtp.KernelLaunchParams, trtp.SymExprs]:

    type_str = "fp32" if inp0.dtype == trt.float32 else "fp16"

    src = triton.compiler.ASTSource(
        fn=add_kernel,
        signature=f"*{type_str},i32,*{type_str}",
        constants={
            "BLOCK_SIZE": block_size,
        },
    )

    compiled_kernel = triton.compile(src)

    N = inp0.shape_expr.numel()
    launch_params = trtp.KernelLaunchParams()

    # grid dims
    launch_params.grid_x = trtp.cdiv(N, block_size)
    # block dims
    launch_params.block_x = compiled_kernel.metadata.num_warps * 32
    # shared memory
    launch_params.shared_mem = compiled_kernel.metadata.shared

    extra_args = trtp.SymIntExprs(1)
    extra_args[0] = trtp.SymInt32(N)

    return compiled_kernel.metadata.name, compiled_kernel.asm["ptx"], launch_params, extra_args


# ---- building, saving, running elsewhere -------------------------------------


def build_engine() -> bytes:
    if not trt.has_gpu():
        os.environ.setdefault("KILN_TRITON_TARGET", "cuda:90")
    builder, network = trt.create_network()
    x = network.add_input("x", trt.float32, (-1,))
    layer = network.add_plugin(trtp.op.my.add_plugin(x, block_size=256, single_tactic=True),
                               aot=True)
    y = layer.get_output(0)
    y.name = "y"
    network.mark_output(y)
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    profile.set_shape("x", (1,), (4096,), (1 << 20,))
    config.add_optimization_profile(profile)
    return builder.build_serialized_network(network, config)


def main(argv):
    path = argv[1] if len(argv) > 1 else "add_plugin.engine"
    engine = build_engine()
    with open(path, "wb") as f:
        f.write(engine)
    print(f"add_plugin: built {path} ({len(engine)} bytes)", flush=True)

    # A fresh process with no plugin definitions loads and runs the file.
    runner = os.path.join(os.path.dirname(os.path.abspath(__file__)), "run_engine.py")
    with tempfile.TemporaryDirectory() as tmp:
        results = os.path.join(tmp, "io.npz")
        subprocess.run([sys.executable, runner, path, "--shape", "x=100000", "--save", results],
                       check=True)
        if not os.path.exists(results):
            return 0  # no GPU: run_engine.py inspected the engine instead
        io = np.load(results)
        x, y = io["x"], io["y"]
        if not np.array_equal(y, x + 1):
            bad = int(np.flatnonzero(y != x + 1)[0])
            print(f"add_plugin: FAILED: y[{bad}] = {y[bad]}, expected {x[bad] + 1}")
            return 1
        print(f"add_plugin: OK, y == x + 1 for {x.size} elements (run in a process without "
              "the plugin's Python)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
