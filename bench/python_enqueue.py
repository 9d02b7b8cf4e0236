"""Host cost of running an engine from Python on torch tensors, side by side
with a torch eager op and Triton's own launcher on the same add (y = x + 1,
4096 float32 elements), in one process on the GPU.

Rows (microseconds of host time per call, median of repeats, two runs):
  kiln execute_async_v3   addresses bound once, one enqueue per call
  kiln context.run        {"x": tensor} -> {"y": tensor} (allocates y)
  kiln context.run out=   context.run({"x": x}, out={"y": y}) (no allocation)
  torch eager             torch.add(x, 1, out=y)
  torch eager, allocating x + 1 (allocates its output, as context.run does)
  Triton launcher         add_kernel[grid](x, n, y, BLOCK_SIZE=1024)

Budget (issue 4): kiln's enqueue costs no more than one torch eager op;
context.run is compared with the torch op doing the same work (allocating
or writing into a given output).
Method: host clock around 5,000 calls with no synchronization inside the
loop, 7 repeats alternating the four, median; the whole measurement twice
(--quick: 1,000 calls, 5 repeats). The context runs in its default mode
(graph mode: one cuGraphLaunch per enqueue).

    python bench/python_enqueue.py [--quick] [--markdown FILE] [--json FILE]

--json writes the medians per run for bench/run ({"status": "skipped"} when
torch or Triton is missing).
"""

import argparse
import json
import statistics
import sys
import time
from typing import Tuple, Union

try:
    import torch
    import triton
    import triton.language as tl
except ImportError as e:  # reported by main()
    torch = triton = tl = None
    _IMPORT_ERROR = e

if triton is not None:
    import kiln as trt
    import kiln.plugin as trtp

    @triton.jit
    def add_kernel(x_ptr, n_elements, y_ptr, BLOCK_SIZE: tl.constexpr):
        pid = tl.program_id(0)
        offsets = pid * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
        mask = offsets < n_elements
        x = tl.load(x_ptr + offsets, mask=mask)
        tl.store(y_ptr + offsets, x + 1, mask=mask)

    @trtp.register("bench::add_plugin")
    def add_desc(inp0: trtp.TensorDesc, block_size: int) -> Tuple[trtp.TensorDesc]:
        return inp0.like()

    @trtp.aot_impl("bench::add_plugin")
    def add_aot(inp0: trtp.TensorDesc, block_size: int, outputs: Tuple[trtp.TensorDesc],
                tactic: int) -> Tuple[Union[str, bytes], Union[str, bytes],
                                      trtp.KernelLaunchParams, trtp.SymExprs]:
        src = triton.compiler.ASTSource(
            fn=add_kernel,
            signature={"x_ptr": "*fp32", "n_elements": "i32", "y_ptr": "*fp32"},
            constexprs={"BLOCK_SIZE": block_size})
        k = triton.compile(src)
        n = inp0.shape_expr.numel()
        lp = trtp.KernelLaunchParams()
        lp.grid_x = trtp.cdiv(n, block_size)
        lp.block_x = k.metadata.num_warps * 32
        lp.shared_mem = k.metadata.shared
        extra = trtp.SymIntExprs(1)
        extra[0] = trtp.SymInt32(n)
        return k.metadata.name, k.asm["ptx"], lp, extra


def per_call_us(fn, calls):
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    t1 = time.perf_counter()
    torch.cuda.synchronize()
    return (t1 - t0) / calls * 1e6


METHODS = [("kiln_enqueue", "kiln execute_async_v3"), ("kiln_run", "kiln context.run"),
           ("kiln_run_out", "kiln context.run out="),
           ("torch_eager", "torch eager torch.add(x, 1, out=y)"),
           ("torch_alloc", "torch eager x + 1 (allocating)"),
           ("triton_launcher", "Triton launcher add_kernel[grid](...)")]


def write_json(path, data):
    if path:
        with open(path, "w") as f:
            json.dump(data, f, indent=1)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--markdown")
    parser.add_argument("--json")
    args = parser.parse_args(argv[1:])
    if triton is None:
        reason = f"cannot import torch/Triton: {_IMPORT_ERROR}"
        print(f"python_enqueue: {reason}; nothing measured")
        write_json(args.json, {"bench": "python_enqueue", "status": "skipped", "reason": reason})
        return 0
    if not torch.cuda.is_available():
        reason = "torch sees no GPU"
        print(f"python_enqueue: {reason}; nothing measured")
        write_json(args.json, {"bench": "python_enqueue", "status": "skipped", "reason": reason})
        return 0
    markdown = args.markdown
    calls, repeats = (1000, 5) if args.quick else (5000, 7)
    n = 4096
    builder, network = trt.create_network()
    x_in = network.add_input("x", trt.float32, (-1,))
    layer = network.add_plugin(trtp.op.bench.add_plugin(x_in, block_size=1024), aot=True)
    y_out = layer.get_output(0)
    y_out.name = "y"
    network.mark_output(y_out)
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    profile.set_shape("x", (1,), (n,), (1 << 20,))
    config.add_optimization_profile(profile)
    engine = trt.Runtime(trt.Logger()).deserialize_cuda_engine(
        builder.build_serialized_network(network, config))
    context = engine.create_execution_context()
    # context.run rebinds y on every call: each run variant gets a context of
    # its own, so that execute_async_v3's bindings stay put.
    run_context = engine.create_execution_context()
    run_out_context = engine.create_execution_context()

    x = torch.randn(n, device="cuda")
    y = torch.empty_like(x)
    context.set_input_shape("x", (n,))
    context.set_tensor_address("x", x.data_ptr())
    context.set_tensor_address("y", y.data_ptr())
    stream = torch.cuda.current_stream().cuda_stream

    def kiln_enqueue():
        context.execute_async_v3(stream)

    def kiln_run():
        run_context.run({"x": x})

    y_run = torch.empty_like(x)

    def kiln_run_out():
        run_out_context.run({"x": x}, out={"y": y_run})

    def torch_add():
        torch.add(x, 1, out=y)

    def torch_alloc():
        return x + 1

    grid = (triton.cdiv(n, 1024),)

    def triton_launch():
        add_kernel[grid](x, n, y, BLOCK_SIZE=1024)

    methods = [("kiln execute_async_v3", kiln_enqueue), ("kiln context.run", kiln_run),
               ("kiln context.run out=", kiln_run_out),
               ("torch eager torch.add(x, 1, out=y)", torch_add),
               ("torch eager x + 1 (allocating)", torch_alloc),
               ("Triton launcher add_kernel[grid](...)", triton_launch)]
    # Correctness first: every method computes y = x + 1.
    for name, fn in methods:
        y.fill_(-1.0)
        fn()
        torch.cuda.synchronize()
        if name in ("kiln context.run", "kiln context.run out=", "torch eager x + 1 (allocating)"):
            continue
        assert torch.equal(y, x + 1), name
    out = run_context.run({"x": x})["y"]
    torch.cuda.synchronize()
    assert torch.equal(out, x + 1)
    y_run.fill_(-1.0)
    kiln_run_out()
    torch.cuda.synchronize()
    assert torch.equal(y_run, x + 1)

    runs = []
    for _ in range(2):
        for _, fn in methods:
            per_call_us(fn, 500)  # warm-up
        samples = {name: [] for name, _ in methods}
        for _ in range(repeats):
            for name, fn in methods:
                samples[name].append(per_call_us(fn, calls))
        runs.append({name: statistics.median(v) for name, v in samples.items()})

    # Where context.run's time goes (informational, one run): its parts
    # measured alone.
    reuse_context = engine.create_execution_context()
    parts = [("torch.empty((n,), device='cuda')", lambda: torch.empty((n,), device="cuda")),
             ("x.new_empty((n,))", lambda: x.new_empty((n,))),
             ("context.run(reuse_outputs=True)",
              lambda: reuse_context.run({"x": x}, reuse_outputs=True))]
    components = {}
    for name, fn in parts:
        per_call_us(fn, 500)
        components[name] = statistics.median(per_call_us(fn, calls) for _ in range(repeats))
    print("context.run's parts (host µs per call): " +
          "; ".join(f"{k} {v:.2f}" for k, v in components.items()))

    torch_key = "torch eager torch.add(x, 1, out=y)"
    lines = ["| call (host time per call) | run 1 | run 2 | vs torch eager, run 1 / run 2 |",
             "|---|---|---|---|"]
    for name, _ in methods:
        r1, r2 = runs[0][name], runs[1][name]
        lines.append(f"| {name} | {r1:.2f} µs | {r2:.2f} µs | "
                     f"{r1 / runs[0][torch_key]:.2f} / {r2 / runs[1][torch_key]:.2f} |")
    k1 = runs[0]["kiln execute_async_v3"] / runs[0][torch_key]
    k2 = runs[1]["kiln execute_async_v3"] / runs[1][torch_key]
    verdict = "met" if max(k1, k2) <= 1.0 else "missed"
    lines.append("")
    lines.append(f"Budget: kiln enqueue ≤ 1.00 × torch eager: {verdict} "
                 f"({k1:.2f} / {k2:.2f}). GPU: {torch.cuda.get_device_name()}, "
                 f"torch {torch.__version__}, triton {triton.__version__}, "
                 f"Python {sys.version.split()[0]}.")
    text = "\n".join(lines)
    print(text)
    if markdown:
        with open(markdown, "w") as f:
            f.write(text + "\n")
    labels = dict((label, key) for key, label in METHODS)
    write_json(args.json, {
        "bench": "python_enqueue", "status": "ok", "device": torch.cuda.get_device_name(),
        "torch": torch.__version__, "torch_cuda": torch.version.cuda,
        "triton": triton.__version__, "python": sys.version.split()[0],
        "calls": calls, "repeats": repeats, "elements": n, "components": components,
        "runs": [{labels[name]: us for name, us in run.items()} for run in runs]})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
