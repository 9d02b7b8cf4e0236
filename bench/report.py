"""The tables of bench/run: rows from the benches' JSON results, a console
table and BENCHMARKS.md. Pure functions of recorded results (no GPU, no
torch), so tests/python/test_bench_report.py checks them on any machine.

Every bench writes one JSON object (see each bench's --json): {"bench": ...,
"status": "ok" | "skipped" | "failed", "reason": ..., and its figures, each
measured twice (run 1 / run 2)}. This module turns them into rows: what kiln
measured, what it is compared with, the ratio of each run, the budget, and
the verdict.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Optional

# The benches in the order bench/run runs them, and the file each one writes.
BENCHES = ["kiln_bench", "coldstart", "build", "python_enqueue", "chain"]

COLDSTART_KERNELS = [1, 10, 50]
COLDSTART_PHASES = ["spawn_ms", "init_ms", "load_ms", "context_ms", "first_ms"]
PHASE_NAMES = {
    "spawn_ms": "process start (posix_spawn to main)",
    "init_ms": "driver init (cuInit, device and primary context)",
    "load_ms": "engine load",
    "context_ms": "context creation and buffers",
    "first_ms": "the first enqueue up to its result on the host",
}

# Causes found for misses that are known and understood (see bench/NOTES.md).
KNOWN_CAUSES: dict = {}


def _python_cause(rid: str, res: dict) -> str:
    """The cause of a Python row's miss from the parts measured in the same
    run (python_enqueue.py's "components"), or "" without them."""
    parts = res.get("components") or {}
    runs = res.get("runs") or []
    alloc = parts.get("x.new_empty((n,))")
    reuse = parts.get("context.run(reuse_outputs=True)")
    if alloc is None or reuse is None or not runs or "kiln_enqueue" not in runs[-1]:
        return ""
    enqueue = runs[-1]["kiln_enqueue"]
    python = reuse - enqueue
    common = (f"measured by parts in the same run, `execute_async_v3` costs {enqueue:.2f} µs and "
              f"`context.run` with its outputs reused {reuse:.2f} µs: about {python:.1f} µs of "
              "Python per call (the feeds dict; each tensor's dtype, device, contiguity and "
              "shape checked; the result dict; two ctypes calls), while torch does the same "
              "work in C++")
    if rid == "py_run":
        return (f"{common}; the output allocation alone (`x.new_empty`) adds {alloc:.2f} µs, "
                "which torch's `x + 1` pays too (bench/NOTES.md)")
    if rid == "py_run_out":
        return f"{common}; `out=` adds a check of each given tensor (bench/NOTES.md)"
    return ""

NO_CAUSE = "cause not found yet: analyse it and record it in bench/NOTES.md"


@dataclass
class Budget:
    """What a row must reach: |op| |value| on the ratio (or on kiln's own
    figure when |on| is "kiln"). An informational budget is an expectation."""

    op: str  # ">=", "<=", "<"
    value: float
    on: str = "ratio"
    informational: bool = False
    unit: str = ""

    def holds(self, x: float) -> bool:
        if x is None or math.isnan(x):
            return False
        return {">=": x >= self.value, "<=": x <= self.value, "<": x < self.value}[self.op]

    def text(self) -> str:
        sign = {">=": "≥", "<=": "≤", "<": "<"}[self.op]
        v = f"{self.value:g}"
        s = f"{sign} {v} {self.unit}".strip() if self.on == "kiln" else f"{sign} {v}"
        return f"informational, {s} expected" if self.informational else s


@dataclass
class Row:
    bench: str
    id: str
    name: str  # for BENCHMARKS.md
    short: str  # for the console
    unit: str = ""
    kiln: Optional[list] = None  # per run
    baseline: Optional[list] = None  # per run
    ratio_of: str = "kiln/baseline"  # or "baseline/kiln"
    budget: Optional[Budget] = None
    skipped: str = ""  # why it did not run
    invalid: str = ""  # why its figures cannot be trusted (wrong results)
    cause: str = ""  # why it missed its budget
    extra: dict = field(default_factory=dict)

    def ratios(self) -> list:
        if self.skipped or not self.kiln or not self.baseline:
            return []
        out = []
        for k, b in zip(self.kiln, self.baseline):
            num, den = (k, b) if self.ratio_of == "kiln/baseline" else (b, k)
            out.append(num / den if den else float("nan"))
        return out

    def verdict(self) -> str:
        """met, missed, as expected, below expectation, informational,
        did not run, invalid."""
        if self.skipped:
            return "did not run"
        if self.invalid:
            return "invalid"
        if self.budget is None:
            return "informational"
        values = self.ratios() if self.budget.on == "ratio" else list(self.kiln or [])
        ok = bool(values) and all(self.budget.holds(v) for v in values)
        if self.budget.informational:
            return "as expected" if ok else "below expectation"
        return "met" if ok else "missed"

    def spread(self) -> Optional[float]:
        """|run 1 - run 2| / the smaller, of the ratios (of kiln's figure when
        the budget is on it)."""
        values = self.ratios()
        if self.budget is not None and self.budget.on == "kiln":
            values = list(self.kiln or [])
        if len(values) < 2 or any(v is None or math.isnan(v) for v in values[:2]):
            return None
        lo = min(values[0], values[1])
        return abs(values[0] - values[1]) / lo if lo > 0 else None


# ---- formatting ---------------------------------------------------------------


def fmt_ratio(r: float) -> str:
    if r is None or math.isnan(r):
        return "n/a"
    if r >= 100:
        return f"{r:.0f}"
    if r >= 10:
        return f"{r:.1f}"
    if r >= 0.01:
        return f"{r:.3f}"
    return f"{r:.2g}"


def fmt_value(v: Optional[float], unit: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    unit = "µs" if unit == "us" else unit
    if unit == "GB/s":
        return f"{v:.1f} GB/s"
    if unit == "s":
        return f"{v:.3f} s"
    if abs(v) >= 100:
        return f"{v:.0f} {unit}"
    if abs(v) >= 1:
        return f"{v:.2f} {unit}"
    return f"{v:.3f} {unit}"


def fmt_ms(v: float) -> str:
    if v is None or math.isnan(v):
        return "n/a ms"
    if v >= 100:
        return f"{v:.0f} ms"
    if v >= 1:
        return f"{v:.1f} ms"
    return f"{v:.3f} ms"


def shorten(text: str, limit: int) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def fmt_spread(s: Optional[float]) -> str:
    return "—" if s is None else f"{100 * s:.1f}%"


def run_values(row: Row, which: str) -> Optional[float]:
    values = getattr(row, which)
    return values[-1] if values else None


# ---- rows from each bench -------------------------------------------------------


def _status(res: Optional[dict]) -> str:
    """"" when |res| holds measurements, else why not."""
    if not res:
        return "did not run: no result (see the bench's log)"
    status = res.get("status")
    if status == "ok":
        return ""
    reason = res.get("reason") or status or "unknown"
    return f"did not run: {reason}"


def _median(values) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def rows_kiln_bench(res: Optional[dict]) -> list:
    skip = _status(res)
    res = res or {}
    elements = int(res.get("elements", 1 << 28))
    power = round(math.log2(elements)) if elements > 0 else 28
    size = f"2^{power} fp32 ({elements * 4 / 2**30:g} GiB in + {elements * 4 / 2**30:g} GiB out)"
    layers = res.get("chain_layers", 20)
    chain_n = res.get("chain_elements", 4096)
    defs = [
        ("bandwidth",
         f"Add plugin, {size}: bandwidth, kiln context vs the same loaded cubin by a "
         "`cuLaunchKernel` loop",
         f"add 2^{power} bandwidth vs raw launch", Budget(">=", 0.99)),
        ("copy",
         f"Add plugin, {size}: bandwidth (bytes read + written), kiln vs "
         "`cuMemcpyDtoDAsync` of the same bytes (the practical ceiling)",
         f"add 2^{power} bandwidth vs D2D copy", Budget(">=", 0.9, informational=True)),
        ("host_cost",
         "Host cost per enqueue, stream mode (one-element add): kiln vs `cuLaunchKernel`",
         "host cost per layer vs cuLaunchKernel", Budget("<=", 1.05)),
        ("graph_layer",
         f"GPU time per layer in graph mode ({layers} adds of {chain_n} fp32): kiln vs the "
         "same launches captured by hand into a CUDA graph",
         "graph mode per layer vs hand graph", Budget("<=", 1.05)),
    ]
    rows = []
    measured = res.get("rows", {})
    for rid, name, short, budget in defs:
        row = Row("kiln_bench", rid, name, short, budget=budget)
        m = measured.get(rid)
        if skip:
            row.skipped = skip
        elif not m:
            row.skipped = "did not run: not in kiln_bench's output"
        elif "skipped" in m:
            row.skipped = f"did not run: {m['skipped']}"
        else:
            row.unit = m.get("unit", "")
            row.kiln, row.baseline = list(m["kiln"]), list(m["baseline"])
        if not row.skipped and res.get("correct") is False:
            row.invalid = "kiln_bench found wrong results (see its log)"
        rows.append(row)
    return rows


def coldstart_medians(res: dict) -> dict:
    """{kernels: [run 1, run 2] of {"cubin": {phase: ms}, "ptx": {...}}},
    medians over the repeats; each phase dict also has "total_ms"."""
    out = {}
    for engine in res.get("engines", []):
        runs = []
        for run in engine.get("runs", []):
            per_kind = {}
            for kind in ("cubin", "ptx"):
                samples = run.get(kind, [])
                per_kind[kind] = {key: _median([s.get(key) for s in samples])
                                  for key in COLDSTART_PHASES + ["total_ms"]}
            runs.append(per_kind)
        out[int(engine["kernels"])] = runs
    return out


def _load_fit(medians: dict, image: str):
    """Least-squares fit load_ms = fixed + per_kernel * kernels over the
    engines measured (last run of each), or None with fewer than two."""
    pts = [(n, runs[-1][image]["load_ms"]) for n, runs in medians.items()
           if runs and not math.isnan(runs[-1][image]["load_ms"])]
    if len(pts) < 2:
        return None
    mx = sum(n for n, _ in pts) / len(pts)
    my = sum(v for _, v in pts) / len(pts)
    var = sum((n - mx) ** 2 for n, _ in pts)
    if var == 0:
        return None
    slope = sum((n - mx) * (v - my) for n, v in pts) / var
    return my - slope * mx, slope


def _coldstart_cause(cubin: dict, ptx: dict, phases: list, kernels: int = 0,
                     medians: Optional[dict] = None) -> str:
    """Why PTX-only / cubin over |phases| stays under 100: the phases that
    cost the same with either image, and the cubin path's fixed load cost
    (from a fit over the engines of 1, 10 and 50 kernels)."""
    cubin_total = sum(cubin[p] for p in phases)
    ptx_total = sum(ptx[p] for p in phases)
    fixed = [(cubin[p], p) for p in phases if p != "load_ms"]
    fixed_ms = sum(v for v, _ in fixed)
    parts = ", ".join(f"{fmt_ms(v)} in {PHASE_NAMES[p]}"
                      for v, p in sorted(fixed, reverse=True) if v >= 0.05 * cubin_total)
    load_ratio = ptx["load_ms"] / cubin["load_ms"] if cubin["load_ms"] > 0 else float("nan")
    text = []
    if fixed_ms > 0:
        bound = ptx_total / fixed_ms
        text.append(f"of the cubin's {fmt_ms(cubin_total)}, {fmt_ms(fixed_ms)} are spent outside "
                    f"the engine load ({parts or 'several phases'}) and PTX-only pays them too, "
                    f"so PTX / cubin cannot exceed {fmt_ratio(bound)} even with a free load")
    fit_c = _load_fit(medians, "cubin") if medians else None
    fit_p = _load_fit(medians, "ptx") if medians else None
    if "load_ms" in phases:
        text.append(f"the engine load itself is {fmt_ratio(load_ratio)}× faster with cubins "
                    f"({fmt_ms(cubin['load_ms'])} vs {fmt_ms(ptx['load_ms'])})")
        if fit_c and fit_p and fit_c[1] > 0:
            text.append(f"over the engines of {', '.join(str(n) for n in sorted(medians))} "
                        f"kernels the load fits {fmt_ms(fit_c[0])} + {fmt_ms(fit_c[1])} per kernel "
                        f"with cubins and {fmt_ms(fit_p[0])} + {fmt_ms(fit_p[1])} per kernel "
                        f"PTX-only: per kernel cubins load {fmt_ratio(fit_p[1] / fit_c[1])}× "
                        f"faster, and the cubin path's fixed cost (reading and verifying the "
                        f"engine, the driver's first module load) weighs most with few kernels")
    if not text:
        return NO_CAUSE
    return "; ".join(text)


def rows_coldstart(res: Optional[dict]) -> list:
    skip = _status(res)
    medians = coldstart_medians(res) if not skip else {}
    kernels = sorted(medians) if medians else COLDSTART_KERNELS
    rows = []
    for n in kernels:
        what = f"{n} distinct kernel{'s' if n > 1 else ''}"
        defs = [
            ("total", f"Cold start, {what}: process start → first result on the host, "
                      "cubin vs PTX-only (ratio PTX / cubin)",
             f"cold start {n}k: total, PTX/cubin", COLDSTART_PHASES),
            ("load", f"Cold start, {what}: engine load (`kiln_engine_load`), cubin vs "
                     "PTX-only (ratio PTX / cubin)",
             f"cold start {n}k: engine load, PTX/cubin", ["load_ms"]),
            ("load_to_first", f"Cold start, {what}: engine load → first result (load, "
                              "context, first enqueue), cubin vs PTX-only (ratio PTX / cubin)",
             f"cold start {n}k: load→result, PTX/cubin", ["load_ms", "context_ms", "first_ms"]),
        ]
        for rid, name, short, phases in defs:
            row = Row("coldstart", f"coldstart_{n}_{rid}", name, short, unit="ms",
                      ratio_of="baseline/kiln", budget=Budget(">=", 100))
            runs = medians.get(n)
            if skip:
                row.skipped = skip
            elif not runs or len(runs) < 2:
                row.skipped = "did not run: fewer than two runs recorded"
            else:
                row.kiln = [sum(r["cubin"][p] for p in phases) for r in runs]
                row.baseline = [sum(r["ptx"][p] for p in phases) for r in runs]
                if any(math.isnan(v) for v in row.kiln + row.baseline):
                    row.kiln = row.baseline = None
                    row.skipped = "did not run: no samples recorded"
                elif row.verdict() == "missed":
                    row.cause = _coldstart_cause(runs[-1]["cubin"], runs[-1]["ptx"], phases, n,
                                                 medians)
            rows.append(row)
    return rows


def rows_build(res: Optional[dict]) -> list:
    skip = _status(res)
    res = res or {}
    layers = res.get("layers", 50)
    cpus = res.get("cpus")
    where = f", {cpus} CPUs" if cpus else ""
    row = Row("build", "build_warm",
              f"Build of a {layers}-plugin network (distinct NVRTC kernels, sm_90 cubins){where}: "
              "warm compile cache vs cold (empty cache); the budget is on the warm time",
              f"build {layers} plugins: warm vs cold", unit="s",
              budget=Budget("<", 1.0, on="kiln", unit="s"))
    runs = res.get("runs", [])
    if skip:
        row.skipped = skip
    elif len(runs) < 1:
        row.skipped = "did not run: no runs recorded"
    else:
        row.kiln = [r["warm_s"][-1] for r in runs]
        row.baseline = [r["cold_s"] for r in runs]
    return [row]


def rows_python_enqueue(res: Optional[dict]) -> list:
    skip = _status(res)
    res = res or {}
    runs = res.get("runs", [])
    defs = [
        ("py_enqueue", "Python: `execute_async_v3` on torch tensors (addresses bound once, "
                       "graph mode), host time per call vs torch eager `torch.add(x, 1, out=y)`",
         "Python enqueue vs torch eager op", "kiln_enqueue", "torch_eager", Budget("<=", 1.0)),
        ("py_run", "Python: `context.run({\"x\": x})` (allocates y), host time per call vs "
                   "the allocating torch eager op `x + 1`",
         "Python context.run vs torch x + 1", "kiln_run", "torch_alloc", Budget("<=", 1.0)),
        ("py_run_out", "Python: `context.run({\"x\": x}, out={\"y\": y})`, host time per call "
                       "vs torch eager `torch.add(x, 1, out=y)`",
         "Python context.run(out=) vs torch.add(out=)", "kiln_run_out", "torch_eager",
         Budget("<=", 1.0)),
        ("py_enqueue_triton", "Python: `execute_async_v3` vs Triton's launcher "
                              "`add_kernel[grid](...)`, host time per call",
         "Python enqueue vs Triton launcher", "kiln_enqueue", "triton_launcher",
         Budget("<=", 1.0, informational=True)),
    ]
    rows = []
    for rid, name, short, k, b, budget in defs:
        row = Row("python_enqueue", rid, name, short, unit="us", budget=budget)
        if skip:
            row.skipped = skip
        elif len(runs) < 2 or any(k not in r or b not in r for r in runs):
            row.skipped = "did not run: incomplete python_enqueue output"
        else:
            row.kiln = [r[k] for r in runs]
            row.baseline = [r[b] for r in runs]
            if row.verdict() == "missed":
                row.cause = _python_cause(rid, res) or KNOWN_CAUSES.get(rid, NO_CAUSE)
        rows.append(row)
    return rows


CHAIN_BASELINES = [
    ("kiln_stream", "kiln stream mode", Budget("<=", 1.0, informational=True)),
    ("torch_eager", "torch eager (Triton launcher ×20)", Budget("<=", 1.0)),
    ("torch_compile", "torch.compile(mode=\"reduce-overhead\")", Budget("<=", 1.05)),
]
CHAIN_SHORT = {"kiln_stream": "stream", "torch_eager": "torch eager",
               "torch_compile": "torch.compile"}
CHAIN_METRICS = [
    ("throughput_us", "throughput (100 back-to-back inferences, events)", "throughput"),
    ("latency_us", "one-shot latency (enqueue + stream sync, host clock)", "one-shot"),
]


def rows_chain(res: Optional[dict]) -> list:
    skip = _status(res)
    res = res or {}
    variants = res.get("variants", {})
    layers = res.get("layers", 20)
    n = res.get("elements", 4096)
    kiln = variants.get("kiln_graph", {})
    rows = []
    for metric, metric_name, metric_short in CHAIN_METRICS:
        for key, label, budget in CHAIN_BASELINES:
            row = Row("chain", f"chain_{metric_short.replace('-', '_')}_{key}",
                      f"{layers}-layer chain of a Triton y = x + 1 ({n} fp32), µs per inference, "
                      f"{metric_name}: kiln graph mode vs {label}",
                      f"chain {metric_short}: graph vs {CHAIN_SHORT[key]}",
                      unit="us", budget=budget)
            base = variants.get(key, {})
            if skip:
                row.skipped = skip
            elif "error" in kiln or metric not in kiln:
                row.skipped = f"did not run: kiln graph mode: {kiln.get('error', 'no result')}"
            elif "error" in base or metric not in base:
                err = base.get("error", "no result")
                row.skipped = err if err.startswith("did not run") else f"did not run: {err}"
            else:
                row.kiln = list(kiln[metric])
                row.baseline = list(base[metric])
                if row.verdict() == "missed":
                    row.cause = NO_CAUSE
            rows.append(row)
    return rows


ROW_BUILDERS = {
    "kiln_bench": rows_kiln_bench,
    "coldstart": rows_coldstart,
    "build": rows_build,
    "python_enqueue": rows_python_enqueue,
    "chain": rows_chain,
}


def collect_rows(results: dict) -> list:
    """All rows, in table order, from {bench: its JSON (or None)}."""
    order = ["kiln_bench", "chain", "python_enqueue", "coldstart", "build"]
    rows = []
    for bench in order:
        rows.extend(ROW_BUILDERS[bench](results.get(bench)))
    return rows


def summary(rows: list) -> str:
    counts = {}
    for row in rows:
        counts[row.verdict()] = counts.get(row.verdict(), 0) + 1
    order = ["met", "missed", "as expected", "below expectation", "informational", "invalid",
             "did not run"]
    parts = [f"{counts[k]} {k}" for k in order if counts.get(k)]
    return f"{len(rows)} rows: " + ", ".join(parts)


# ---- the console table ----------------------------------------------------------


def _ratio_pair(row: Row) -> str:
    r = row.ratios()
    return " / ".join(fmt_ratio(x) for x in r) if r else "—"


def console_table(rows: list) -> str:
    head = (f"{'row':44} {'kiln':>12} {'baseline':>12} {'ratio r1 / r2':>17} "
            f"{'budget':>24}  {'verdict':17} {'spread':>7}")
    lines = [head, "-" * len(head)]
    for row in rows:
        if row.skipped:
            lines.append(f"{row.short[:44]:44} {shorten(row.skipped, 100)}")
            continue
        lines.append(
            f"{row.short[:44]:44} {fmt_value(run_values(row, 'kiln'), row.unit):>12} "
            f"{fmt_value(run_values(row, 'baseline'), row.unit):>12} {_ratio_pair(row):>17} "
            f"{row.budget.text() if row.budget else '':>24}  {row.verdict():17} "
            f"{fmt_spread(row.spread()):>7}")
    lines.append(summary(rows))
    return "\n".join(lines)


# ---- BENCHMARKS.md ---------------------------------------------------------------

METHOD = """\
- One call of `bench/run` (from `scripts/gpu-check`) builds nothing itself: it
  runs `kiln_bench`, `kiln_coldstart`, `kiln_build_bench`,
  `bench/python_enqueue.py` and `bench/chain.py` from the Release build, each
  writing JSON, and generates this file from them; the analysis at the end is
  `bench/NOTES.md`, kept by hand.
- Every measurement runs twice in its process (run 1 / run 2) to show its
  spread; the kiln and baseline columns are run 2's medians; *spread* is
  |run 1 − run 2| / the smaller, of the ratios (of kiln's figure for the build
  row). A difference smaller than the spread is noise.
- Device time: CUDA events around the timed region, after a warm-up, median
  of many repeats, kiln and its baseline alternating. Host time: the host
  clock around many calls with no synchronization inside the loop.
- Bandwidth rows: 2^28 float32 elements (1 GiB read + 1 GiB written per
  launch, counted for the copy too), 10 launches per sample, 11 samples; at
  1 GiB per tensor the 50 MB L2 cannot flatter either side, so inputs are not
  rotated. The raw side launches the context's own loaded `CUfunction` with
  the same parameter buffer and launch dimensions. Inputs hold a non-zero
  pattern, outputs are poisoned (NaN) first and checked at probe positions
  after the runs.
- Host cost (stream mode): 20,000 enqueues of a one-element add vs 20,000
  `cuLaunchKernel`, 11 samples. Graph mode: 1,000 replays of a 20-layer chain
  (4096 fp32) per sample, divided by 20; the hand graph is the same cubins
  and parameter buffers captured from raw launches. These touch 16 KB that
  sits in L2 for both sides alike; what is measured is launch overhead.
- 20-layer chain (Python, torch + Triton): a Triton kernel y = x + 1 on 4096
  fp32, as a 20-layer kiln engine (kiln.plugin aot_impl compiling it with
  `triton.compile`), kiln graph mode and stream mode (two contexts, switched
  with `kiln_context_set_graphs` through ctypes), the same kernel launched 20
  times by Triton's launcher (torch eager), and `torch.compile(mode=
  "reduce-overhead")` of the function that launches it 20 times. Throughput:
  events around 100 back-to-back inferences, median of 15 repeats; one-shot
  latency: host clock around one inference plus a stream synchronize, median
  of 300. Every variant is checked bit for bit against torch's own 20
  additions on fresh random input, before and after the timing.
- Python enqueue: host time per call over 5,000 calls, 7 repeats, the four
  calls alternating, on 4096 fp32 elements.
- Cold start: engines of 1, 10 and 50 distinct kernels, built in the bench
  process for the GPU's architecture (PTX plus the exact-arch cubin). Each
  sample is a fresh process (`posix_spawn` of the bench itself) with
  `CUDA_CACHE_DISABLE=1`: without it the driver's JIT cache keeps compiled PTX
  from one process to the next and hides what PTX-only costs. Time is
  CLOCK_MONOTONIC, read by the parent before spawning and by the child at main,
  after driver init, after engine load, after context creation and at the first
  result on the host (enqueue, synchronize, copy the output back, check every
  element). The context runs in its default mode, graph mode, so the first
  enqueue also captures the CUDA graph, as a fresh serving process would. The
  parent keeps a CUDA context open meanwhile, so the GPU stays initialized
  between children. 5 samples per run, medians, a warm-up child of each kind
  first; the kiln column is the cubin, the baseline PTX-only.
- Build: a network of 50 plugins, each its own CUDA C kernel (NVRTC → PTX →
  nvJitLink → sm_90 cubin), built cold (empty compile cache), then twice warm;
  each run starts from a fresh cache directory. Whole-process time of
  `kiln_build`, no GPU used.
- `--quick` (gpu-check --quick) shrinks every count (2^24 elements, 2,000
  launches, 5 repeats, 3 cold-start samples...): quick figures are for
  smoke tests, not for quoting.
"""


def environment_line(env: dict) -> str:
    parts = [env.get("gpu") or "unknown GPU"]
    if env.get("driver"):
        parts.append(f"driver {env['driver']}")
    if env.get("cuda"):
        parts.append(f"CUDA {env['cuda']}")
    soft = []
    for key, name in (("torch", "torch"), ("triton", "Triton"), ("python", "Python")):
        if env.get(key):
            soft.append(f"{name} {env[key]}")
    line = ", ".join(parts)
    if soft:
        line += "; " + ", ".join(soft)
    return line


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(rows: list) -> str:
    lines = ["| row | kiln | baseline | ratio, run 1 / run 2 | budget | met | spread |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        name = _md_escape(row.name)
        budget = row.budget.text() if row.budget else "informational"
        if row.skipped:
            lines.append(f"| {name} | — | — | — | {budget} | "
                         f"{_md_escape(shorten(row.skipped, 160))} | — |")
            continue
        verdict = row.verdict()
        if verdict == "invalid":
            verdict = f"invalid: {row.invalid}"
        elif verdict == "missed":
            verdict = "**missed**"
        lines.append(
            f"| {name} | {fmt_value(run_values(row, 'kiln'), row.unit)} | "
            f"{fmt_value(run_values(row, 'baseline'), row.unit)} | {_ratio_pair(row)} | "
            f"{budget} | {_md_escape(verdict)} | {fmt_spread(row.spread())} |")
    return "\n".join(lines)


def misses_section(rows: list) -> str:
    misses = [r for r in rows if r.verdict() in ("missed", "below expectation", "invalid")]
    lines = ["### Misses and their causes", ""]
    if not misses:
        lines.append("None: every row with a budget met it.")
    for row in misses:
        cause = row.invalid or row.cause or NO_CAUSE
        lines.append(f"- **{_md_escape(row.short)}** ({_ratio_pair(row)} against "
                     f"{row.budget.text() if row.budget else 'no budget'}): {cause}.")
    skipped = [r for r in rows if r.skipped]
    if skipped:
        lines += ["", "Rows that did not run:", ""]
        lines += [f"- {_md_escape(r.short)}: {_md_escape(r.skipped)}" for r in skipped]
    return "\n".join(lines)


def coldstart_section(res: Optional[dict]) -> str:
    if _status(res):
        return ""
    medians = coldstart_medians(res)
    done = res.get("repeats_done", [])
    lines = ["### Cold start, phase by phase", "",
             f"Medians in ms of {' / '.join(str(d) for d in done)} fresh processes per kind "
             f"(run 1 / run 2); `CUDA_CACHE_DISABLE=1`; CUDA_MODULE_LOADING: "
             f"{res.get('module_loading', 'unknown')}.", "",
             "| kernels | image | total | process start | driver init | engine load | "
             "context | first result |", "|---|---|---|---|---|---|---|---|"]
    for n in sorted(medians):
        runs = medians[n]
        for kind, label in (("cubin", "cubin"), ("ptx", "PTX only")):
            cells = []
            for key in ["total_ms"] + COLDSTART_PHASES:
                vals = [r[kind][key] for r in runs]
                digits = 3 if key in ("load_ms", "context_ms", "first_ms") else 1
                cells.append(" / ".join(f"{v:.{digits}f}" for v in vals))
            lines.append(f"| {n} | {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def chain_section(res: Optional[dict]) -> str:
    if _status(res):
        return ""
    variants = res.get("variants", {})
    lines = ["### 20-layer chain, every variant", "",
             f"µs per inference (run 1 / run 2). Graph mode switched by "
             f"{res.get('graph_switch', 'kiln_context_set_graphs')}.", "",
             "| variant | throughput | one-shot latency |", "|---|---|---|"]
    for key, entry in variants.items():
        label = _md_escape(entry.get("label", key))
        if "error" in entry:
            lines.append(f"| {label} | {_md_escape(entry['error'])} | |")
            continue
        t = " / ".join(f"{v:.2f}" for v in entry.get("throughput_us", []))
        lat = " / ".join(f"{v:.2f}" for v in entry.get("latency_us", []))
        lines.append(f"| {label} | {t} | {lat} |")
    notes = res.get("notes", {})
    if "torch_compile_first_calls_s" in notes:
        lines += ["", f"torch.compile's first four calls (compile, warm-up, record, replay) "
                      f"took {notes['torch_compile_first_calls_s']:.1f} s "
                      f"(fullgraph={notes.get('torch_compile_fullgraph')})."]
    return "\n".join(lines)


def python_section(res: Optional[dict]) -> str:
    if _status(res):
        return ""
    runs = res.get("runs", [])
    if len(runs) < 2:
        return ""
    labels = [("kiln_enqueue", "kiln `execute_async_v3` (addresses bound once)"),
              ("kiln_run", "kiln `context.run({\"x\": x})` (allocates y)"),
              ("kiln_run_out", "kiln `context.run({\"x\": x}, out={\"y\": y})`"),
              ("torch_eager", "torch eager `torch.add(x, 1, out=y)`"),
              ("torch_alloc", "torch eager `x + 1` (allocates)"),
              ("triton_launcher", "Triton launcher `add_kernel[grid](...)`")]
    lines = ["### Python enqueue, every call", "",
             f"Host µs per call, {res.get('calls')} calls × {res.get('repeats')} repeats, "
             "median (run 1 / run 2).", "",
             "| call | run 1 | run 2 | vs torch eager, run 1 / run 2 |", "|---|---|---|---|"]
    for key, label in labels:
        if not all(key in r and "torch_eager" in r for r in runs):
            continue
        r1, r2 = runs[0][key], runs[1][key]
        q1, q2 = r1 / runs[0]["torch_eager"], r2 / runs[1]["torch_eager"]
        lines.append(f"| {label} | {r1:.2f} | {r2:.2f} | {q1:.2f} / {q2:.2f} |")
    components = res.get("components") or {}
    if components:
        lines += ["", "Parts of `context.run`, each measured alone (host µs per call): " +
                  "; ".join(f"`{k}` {v:.2f}" for k, v in components.items()) + "."]
    return "\n".join(lines)


def build_section(res: Optional[dict]) -> str:
    if _status(res):
        return ""
    lines = ["### Build, every run", "",
             f"{res.get('layers')} plugins, {res.get('cpus')} CPUs.", "",
             "| run | cold | warm | warm again |", "|---|---|---|---|"]
    for i, r in enumerate(res.get("runs", []), 1):
        w = r.get("warm_s", [float("nan"), float("nan")])
        lines.append(f"| {i} | {r['cold_s']:.3f} s | {w[0]:.4f} s | {w[-1]:.4f} s |")
    return "\n".join(lines)


def markdown(env: dict, results: dict, notes: str) -> str:
    rows = collect_rows(results)
    mode = "quick mode (smoke test: do not quote)" if env.get("quick") else "full mode"
    parts = [
        "# kiln benchmarks",
        "",
        "<!-- Generated by bench/run from the benches' JSON; edit bench/report.py for the "
        "tables and bench/NOTES.md for the analysis, not this file. -->",
        "",
        f"Generated by `bench/run` on {env.get('date', 'an unknown date')}, {mode}: "
        f"{environment_line(env)}.",
        "",
        "Every ratio is measured side by side in one process; absolute figures are "
        "hints only. " + summary(rows) + ".",
        "",
        "## Results",
        "",
        markdown_table(rows),
        "",
        misses_section(rows),
    ]
    for section in (chain_section(results.get("chain")),
                    python_section(results.get("python_enqueue")),
                    coldstart_section(results.get("coldstart")),
                    build_section(results.get("build"))):
        if section:
            parts += ["", section]
    parts += ["", "## Method", "", METHOD.rstrip()]
    notes = (notes or "").strip("\n")
    if notes:
        parts += ["", notes]
    return "\n".join(parts) + "\n"


def environment(results: dict, smi_query: str = "", smi_text: str = "", date: str = "",
                quick: bool = False) -> dict:
    """The header's facts: the GPU and driver from `nvidia-smi --query-gpu=
    name,driver_version --format=csv,noheader` (|smi_query|), the CUDA version
    from nvidia-smi's banner (|smi_text|), else from what the benches
    reported."""
    env = {"date": date, "quick": quick}
    first = (smi_query or "").strip().splitlines()
    if first and "," in first[0]:
        name, driver = [p.strip() for p in first[0].split(",", 1)]
        env["gpu"], env["driver"] = name, driver
    import re
    m = re.search(r"CUDA Version:\s*([0-9.]+)", smi_text or "")
    if m:
        env["cuda"] = m.group(1)
    kb = results.get("kiln_bench") or {}
    if not env.get("gpu"):
        for bench in ("kiln_bench", "coldstart", "chain", "python_enqueue"):
            dev = (results.get(bench) or {}).get("device")
            if dev:
                env["gpu"] = dev
                break
    if not env.get("cuda") and kb.get("cuda_driver_version"):
        v = int(kb["cuda_driver_version"])
        env["cuda"] = f"{v // 1000}.{v % 1000 // 10}"
    for bench in ("chain", "python_enqueue"):
        res = results.get(bench) or {}
        for key in ("torch", "triton", "python"):
            if res.get(key) and not env.get(key):
                env[key] = res[key]
    return env
