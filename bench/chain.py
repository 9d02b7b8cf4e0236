"""A 20-layer chain of a small Triton kernel (y = x + 1 on 4096 float32
elements), one inference four ways, in one process on the GPU:

  kiln graph     an engine of 20 layers of the plugin below (kiln.plugin,
                 aot_impl compiling the Triton kernel), execute_async_v3 on a
                 context in graph mode (one cuGraphLaunch per inference)
  kiln stream    the same engine, a second context in stream mode (20
                 cuLaunchKernel per inference)
  torch eager    the same Triton kernel launched 20 times from Python by
                 Triton's launcher, into two preallocated ping-pong buffers
  torch.compile  torch.compile(mode="reduce-overhead") of a function that
                 launches the Triton kernel 20 times (CUDA graphs through
                 torch's cudagraph trees; the input is copied into the
                 graph's static buffer on every call, as torch does)

Two numbers per variant, each a median, the whole measurement twice:
  throughput   CUDA events around 100 back-to-back inferences on the current
               stream, divided by 100; median of 15 repeats (--quick: 5),
               the variants alternating
  one-shot     host wall time of one inference plus a stream synchronize,
               GPU idle before it; median of 300 samples (--quick: 60), the
               variants alternating

Every variant is checked before timing: fresh random input, outputs
poisoned with NaN (the torch.compile output is torch's own), the result
compared bit for bit with x + 1 + 1 ... computed by torch. The data is 16 KB
and stays in L2 for every variant alike; what differs is launch overhead,
so the inputs are not rotated.

Graph mode is switched per context through kiln's C function
kiln_context_set_graphs, called with ctypes on kiln._lib.lib (the Python
package has no switch of its own yet).

    python bench/chain.py [--quick] [--json FILE]
    python bench/chain.py --dry-run    # no GPU or torch: builds the engine
                                       # (PTX for sm_90) and describes it

--json writes the medians per run for bench/run ({"status": "skipped"}
without torch or a GPU).
"""

import argparse
import ctypes
import json
import os
import statistics
import sys
import time
import traceback
from typing import Tuple, Union

# Triton 3.9 warns when this is unset; 1 keeps its long-standing default.
os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")

LAYERS = 20
ELEMENTS = 4096
BLOCK = 1024
PLUGIN = "bench::chain_add_one"

try:
    import triton
    import triton.language as tl
except ImportError as e:  # reported by main()
    triton = tl = None
    _TRITON_ERROR = e

if triton is not None:
    import kiln as trt
    import kiln.plugin as trtp

    @triton.jit
    def add_one(x_ptr, n_elements, y_ptr, BLOCK_SIZE: tl.constexpr):
        pid = tl.program_id(0)
        offsets = pid * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
        mask = offsets < n_elements
        x = tl.load(x_ptr + offsets, mask=mask)
        tl.store(y_ptr + offsets, x + 1, mask=mask)

    def compile_kernel(src):
        """triton.compile(src) where there is a GPU; without one (--dry-run)
        Triton cannot pick a target, so compile for sm_90."""
        if trt.has_gpu():
            return triton.compile(src)
        from triton.backends.compiler import GPUTarget
        return triton.compile(src, target=GPUTarget("cuda", 90, 32))

    @trtp.register(PLUGIN)
    def chain_desc(inp0: trtp.TensorDesc, block_size: int) -> Tuple[trtp.TensorDesc]:
        return inp0.like()

    @trtp.aot_impl(PLUGIN)
    def chain_aot(inp0: trtp.TensorDesc, block_size: int, outputs: Tuple[trtp.TensorDesc],
                  tactic: int) -> Tuple[Union[str, bytes], Union[str, bytes],
                                        trtp.KernelLaunchParams, trtp.SymExprs]:
        src = triton.compiler.ASTSource(
            fn=add_one,
            signature={"x_ptr": "*fp32", "n_elements": "i32", "y_ptr": "*fp32"},
            constexprs={"BLOCK_SIZE": block_size})
        k = compile_kernel(src)
        n = inp0.shape_expr.numel()
        lp = trtp.KernelLaunchParams()
        lp.grid_x = trtp.cdiv(n, block_size)
        lp.block_x = k.metadata.num_warps * 32
        lp.shared_mem = k.metadata.shared
        extra = trtp.SymIntExprs(1)
        extra[0] = trtp.SymInt32(n)
        return k.metadata.name, k.asm["ptx"], lp, extra


VARIANTS = [
    ("kiln_graph", "kiln graph mode, execute_async_v3"),
    ("kiln_stream", "kiln stream mode, execute_async_v3"),
    ("torch_eager", "torch eager, Triton launcher x20"),
    ("torch_compile", 'torch.compile(mode="reduce-overhead"), Triton kernel x20'),
]

GRAPH_SWITCH = "ctypes: kiln._lib.lib.kiln_context_set_graphs(context._ptr, enabled)"


def build_engine(sm_archs=None) -> bytes:
    builder, network = trt.create_network()
    t = network.add_input("x", trt.float32, (-1,))
    for _ in range(LAYERS):
        layer = network.add_plugin(trtp.op.bench.chain_add_one(t, block_size=BLOCK), aot=True)
        t = layer.get_output(0)
    t.name = "y"
    network.mark_output(t)
    config = builder.create_builder_config()
    if sm_archs is not None:
        config.sm_archs = list(sm_archs)
    profile = builder.create_optimization_profile()
    profile.set_shape("x", (1,), (ELEMENTS,), (1 << 20,))
    config.add_optimization_profile(profile)
    return builder.build_serialized_network(network, config)


def set_graphs(context, enabled: bool) -> None:
    """Graph mode on or off for one kiln context, through the C API."""
    from kiln import _lib
    fn = _lib.lib.kiln_context_set_graphs
    if fn.argtypes is None:  # kiln._lib may declare it already
        fn.argtypes = [ctypes.c_void_p, ctypes.c_bool]
        fn.restype = ctypes.c_void_p
    _lib.check(fn(context._ptr, bool(enabled)))


def first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"[:300]


def write_json(path, data):
    if path:
        with open(path, "w") as f:
            json.dump(data, f, indent=1)


def dry_run(args) -> int:
    """No GPU, no torch: build the engine (Triton compiles for sm_90; with no
    GPU and no target the builder keeps the PTX only, so that a Triton newer
    than the machine's nvJitLink still works) and describe it."""
    t0 = time.perf_counter()
    engine = build_engine()
    took = time.perf_counter() - t0
    text = trt.inspect(engine)
    print(text)
    print(f"chain: dry run: built a {LAYERS}-layer engine of {PLUGIN} (sm_90 PTX) in {took:.2f} s "
          f"({len(engine)} bytes); nothing timed")
    write_json(args.json, {"bench": "chain", "status": "dry-run", "engine_bytes": len(engine),
                           "layers": LAYERS, "elements": ELEMENTS})
    return 0


class Variant:
    """One way of running the chain: run() enqueues one inference on the
    current stream; output() is the tensor it wrote; poison() fills that
    output with NaN where the output is ours."""

    def __init__(self, key, label, run, output, poison=None):
        self.key, self.label = key, label
        self.run, self.output, self.poison = run, output, poison or (lambda: None)
        self.error = None


def make_variants(torch, x, timings_note):
    n = x.numel()
    stream = torch.cuda.current_stream().cuda_stream
    variants = []

    # kiln: one engine, two contexts.
    try:
        t0 = time.perf_counter()
        blob = build_engine()
        timings_note["kiln_build_s"] = time.perf_counter() - t0
        engine = trt.Runtime(trt.Logger()).deserialize_cuda_engine(blob)
        for key, label in VARIANTS[:2]:
            context = engine.create_execution_context()
            set_graphs(context, key == "kiln_graph")
            y = torch.empty_like(x)
            context.set_input_shape("x", (n,))
            context.set_tensor_address("x", x.data_ptr())
            context.set_tensor_address("y", y.data_ptr())
            variants.append(Variant(key, label,
                                    lambda c=context: c.execute_async_v3(stream),
                                    lambda y=y: y, lambda y=y: y.fill_(float("nan"))))
            variants[-1].keep = (engine, context)
    except Exception as e:  # noqa: BLE001 - the kiln rows say why
        traceback.print_exc()
        variants = []
        for key, label in VARIANTS[:2]:
            v = Variant(key, label, lambda: None, lambda: None)
            v.error = f"kiln engine build or setup failed: {first_line(e)}"
            variants.append(v)

    # torch eager: Triton's launcher, 20 launches into ping-pong buffers.
    grid = (triton.cdiv(n, BLOCK),)
    bufs = [torch.empty_like(x), torch.empty_like(x)]
    y_eager = torch.empty_like(x)

    def eager():
        src = x
        for i in range(LAYERS):
            dst = y_eager if i == LAYERS - 1 else bufs[i % 2]
            add_one[grid](src, n, dst, BLOCK_SIZE=BLOCK)
            src = dst

    variants.append(Variant("torch_eager", VARIANTS[2][1], eager, lambda: y_eager,
                            lambda: y_eager.fill_(float("nan"))))

    # torch.compile(mode="reduce-overhead") of the same 20 launches.
    def chain_fn(inp):
        for _ in range(LAYERS):
            out = torch.empty_like(inp)
            add_one[grid](inp, n, out, BLOCK_SIZE=BLOCK)
            inp = out
        return inp

    holder = {}
    v = Variant("torch_compile", VARIANTS[3][1], None, lambda: holder["y"])
    errors = []
    for fullgraph in (True, False):
        try:
            compiled = torch.compile(chain_fn, mode="reduce-overhead", fullgraph=fullgraph)

            def call(compiled=compiled):
                torch.compiler.cudagraph_mark_step_begin()
                holder["y"] = compiled(x)

            t0 = time.perf_counter()
            for _ in range(4):  # compile, warm-up run, record, replay
                call()
            torch.cuda.synchronize()
            timings_note["torch_compile_first_calls_s"] = time.perf_counter() - t0
            timings_note["torch_compile_fullgraph"] = fullgraph
            v.run = call
            break
        except Exception as e:  # noqa: BLE001 - any failure is the row's reason
            errors.append(f"fullgraph={fullgraph}: {first_line(e)}")
            traceback.print_exc()
            try:
                torch._dynamo.reset()
            except Exception:  # noqa: BLE001
                pass
    if v.run is None:
        v.error = "did not run: " + "; ".join(errors)
        v.run = lambda: None
    variants.append(v)
    return variants


def check_variants(torch, x, variants, when="") -> None:
    """Each variant computes the chain on fresh input (bitwise equal to torch's
    own 20 additions); a wrong one gets an error and is not timed."""
    x.copy_(torch.randn(x.numel(), device=x.device) * 100)
    ref = x.clone()
    for _ in range(LAYERS):
        ref = ref + 1
    torch.cuda.synchronize()
    for v in variants:
        if v.error:
            continue
        try:
            v.poison()
            v.run()
            torch.cuda.synchronize()
            out = v.output()
            if not torch.equal(out, ref):
                bad = (out - ref).abs()
                v.error = (f"{when}wrong result: max |y - ref| = {bad.nan_to_num(float('inf')).max().item()}"
                           f", NaNs: {int(torch.isnan(out).sum().item())}")
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            v.error = f"{when}failed: {first_line(e)}"


def measure(torch, variants, repeats, samples, iters=100):
    """One run: {key: (throughput_us, latency_us)} for the working variants. A
    variant that raises is marked with the error and left out."""
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    stream = torch.cuda.current_stream()

    def guarded(v, fn):
        try:
            return fn()
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            v.error = f"failed during timing: {first_line(e)}"
            return None

    def warm(v):
        for _ in range(20):
            v.run()
        torch.cuda.synchronize()

    def throughput(v):
        torch.cuda.synchronize()
        start.record()
        for _ in range(iters):
            v.run()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) * 1e3 / iters

    def one_shot(v):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        v.run()
        stream.synchronize()
        return (time.perf_counter() - t0) * 1e6

    for v in variants:
        if not v.error:
            guarded(v, lambda: warm(v))
    through = {v.key: [] for v in variants if not v.error}
    latency = {v.key: [] for v in variants if not v.error}
    for r in range(repeats):
        live = [v for v in variants if not v.error]
        for i in range(len(live)):
            v = live[(i + r) % len(live)]
            t = guarded(v, lambda: throughput(v))
            if t is not None:
                through[v.key].append(t)
    for k in range(samples):
        live = [v for v in variants if not v.error]
        for i in range(len(live)):
            v = live[(i + k) % len(live)]
            t = guarded(v, lambda: one_shot(v))
            if t is not None:
                latency[v.key].append(t)
    return {v.key: (statistics.median(through[v.key]), statistics.median(latency[v.key]))
            for v in variants if not v.error and through.get(v.key) and latency.get(v.key)}


def main(argv) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args(argv[1:])
    if triton is None:
        reason = f"cannot import Triton: {_TRITON_ERROR}"
        print(f"chain: {reason}; nothing measured")
        write_json(args.json, {"bench": "chain", "status": "skipped", "reason": reason})
        return 0
    if args.dry_run:
        return dry_run(args)
    try:
        import torch
    except ImportError as e:
        reason = f"cannot import torch: {e}"
        print(f"chain: {reason}; nothing measured")
        write_json(args.json, {"bench": "chain", "status": "skipped", "reason": reason})
        return 0
    if not torch.cuda.is_available() or not trt.has_gpu():
        reason = "no GPU (torch or kiln sees none)"
        print(f"chain: {reason}; nothing measured")
        write_json(args.json, {"bench": "chain", "status": "skipped", "reason": reason})
        return 0

    repeats, samples = (5, 60) if args.quick else (15, 300)
    notes = {}
    torch.manual_seed(0)
    x = torch.randn(ELEMENTS, device="cuda")
    variants = make_variants(torch, x, notes)
    check_variants(torch, x, variants)
    for v in variants:
        print(f"chain: {v.label}: {'correct' if not v.error else v.error}")
    runs = [measure(torch, variants, repeats, samples) for _ in range(2)]
    # The results are still right after the timing.
    check_variants(torch, x, variants, when="after timing: ")

    result = {
        "bench": "chain", "status": "ok", "device": torch.cuda.get_device_name(),
        "torch": torch.__version__, "torch_cuda": torch.version.cuda,
        "triton": triton.__version__, "python": sys.version.split()[0],
        "layers": LAYERS, "elements": ELEMENTS, "iterations": 100, "repeats": repeats,
        "samples": samples, "graph_switch": GRAPH_SWITCH, "notes": notes, "variants": {}}
    print(f"\n{LAYERS}-layer chain of y = x + 1 on {ELEMENTS} fp32, µs per inference "
          f"(run 1 / run 2):")
    print(f"{'variant':58} {'throughput':>17} {'one-shot':>17}")
    for v in variants:
        entry = {"label": v.label}
        if v.error or any(v.key not in run for run in runs):
            entry["error"] = v.error or "no timing recorded"
            print(f"{v.label:58} {entry['error']}")
        else:
            entry["throughput_us"] = [run[v.key][0] for run in runs]
            entry["latency_us"] = [run[v.key][1] for run in runs]
            t, lat = entry["throughput_us"], entry["latency_us"]
            print(f"{v.label:58} {t[0]:8.2f}/{t[1]:<8.2f} {lat[0]:8.2f}/{lat[1]:<8.2f}")
        result["variants"][v.key] = entry
    write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
