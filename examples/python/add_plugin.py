"""The seed's Triton example (tensorrt.plugin.aot_impl's docstring) on kiln.

What differs from the seed, and why:
  * the imports: ``import kiln as trt`` and ``import kiln.plugin as trtp``
    (plus ``typing``'s Tuple/Union, which the seed uses without importing);
  * the plugin-id typo: the seed registers "my::add_plugin" but decorates
    ``aot_impl("my::elemwise_add_plugin")``, and its aot_impl takes a
    ``single_tactic: bool`` attribute that was never registered (both are
    left over from another plugin); the aot_impl below uses "my::add_plugin"
    and the registered attribute only;
  * current Triton (>= 3.2) forces one more change: ``ASTSource`` takes a dict
    ``signature=`` and ``constexprs=`` instead of the seed's string signature
    and ``constants=``;
  * ``triton.compile(src)`` needs a GPU to pick its target; without one,
    ``compile_for_build`` compiles for sm_90 explicitly.

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
from typing import Tuple, Union

import numpy as np

# Triton 3.9 warns when this is unset; 1 keeps its long-standing default.
os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
import triton  # noqa: E402
import triton.language as tl  # noqa: E402
from triton.backends.compiler import GPUTarget  # noqa: E402

import kiln as trt  # noqa: E402
import kiln.plugin as trtp  # noqa: E402


def compile_for_build(src):
    """triton.compile(src) as the seed calls it where there is a GPU; with none
    Triton cannot pick a target, so compile for sm_90 (the PTX also runs on
    newer GPUs)."""
    if trt.has_gpu():
        return triton.compile(src)
    return triton.compile(src, target=GPUTarget("cuda", 90, 32))


# ---- the seed, imports changed, ids matched, Triton's dict signature ---------

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
    inp0: trtp.TensorDesc, block_size: int, outputs: Tuple[trtp.TensorDesc], tactic: int
) -> Tuple[Union[str, bytes], Union[str, bytes], trtp.KernelLaunchParams, trtp.SymExprs]:

    type_str = "fp32" if inp0.dtype == trt.float32 else "fp16"

    src = triton.compiler.ASTSource(
        fn=add_kernel,
        signature={"x_ptr": f"*{type_str}", "n_elements": "i32", "y_ptr": f"*{type_str}"},
        constexprs={
            "BLOCK_SIZE": block_size,
        },
    )

    compiled_kernel = compile_for_build(src)

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
    builder, network = trt.create_network()
    x = network.add_input("x", trt.float32, (-1,))
    layer = network.add_plugin(trtp.op.my.add_plugin(x, block_size=256), aot=True)
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
