"""bench/run's table and BENCHMARKS.md from recorded results: no GPU, no torch,
no kiln library needed. The sample (bench_samples/results.json) has figures
modelled on earlier runs; it is test input, not a measurement."""

import copy
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(REPO, "bench")
SAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench_samples",
                      "results.json")
sys.path.insert(0, BENCH)
import report  # noqa: E402


@pytest.fixture
def sample():
    with open(SAMPLE) as f:
        data = json.load(f)
    return data["environment"], data["results"]


def by_id(rows):
    return {row.id: row for row in rows}


def test_every_row_is_there(sample):
    _, results = sample
    rows = report.collect_rows(results)
    ids = [row.id for row in rows]
    assert len(ids) == len(set(ids))
    # kiln_bench 4, chain 2 metrics x 3 baselines, Python 4, cold start 3 x 3, build 1.
    assert len(rows) == 4 + 6 + 4 + 9 + 1
    for rid in ("bandwidth", "copy", "host_cost", "graph_layer", "py_enqueue", "py_run",
                "coldstart_50_total", "coldstart_50_load", "coldstart_1_load_to_first",
                "build_warm", "chain_throughput_torch_compile", "chain_one_shot_kiln_stream"):
        assert rid in ids


def test_verdicts_and_ratios(sample):
    _, results = sample
    rows = by_id(report.collect_rows(results))
    bw = rows["bandwidth"]
    assert bw.ratios() == pytest.approx([3026.32 / 3026.04, 3023.02 / 3024.16])
    assert bw.verdict() == "met"
    assert rows["copy"].verdict() == "as expected"
    assert rows["copy"].budget.text() == "informational, ≥ 0.9 expected"
    assert rows["host_cost"].verdict() == "met"
    assert rows["graph_layer"].verdict() == "met"
    # Cold start ratios are PTX / cubin.
    load = rows["coldstart_50_load"]
    assert load.ratio_of == "baseline/kiln"
    assert all(r > 100 for r in load.ratios())
    assert load.verdict() == "met"
    # The build budget is on the warm time itself (< 1 s), not on a ratio.
    build = rows["build_warm"]
    assert build.kiln == [0.0019, 0.0019] and build.baseline == [0.612, 0.598]
    assert build.verdict() == "met"
    assert build.budget.text() == "< 1 s"


def test_misses_carry_their_cause(sample):
    _, results = sample
    rows = by_id(report.collect_rows(results))
    run = rows["py_run"]
    assert run.verdict() == "missed"
    assert "new_empty" in run.cause
    total = rows["coldstart_1_total"]
    assert total.verdict() == "missed"
    assert "driver init" in total.cause and "cannot exceed" in total.cause
    # The cause's bound is PTX total / the phases both pay, near the ratio.
    assert "1.2" in total.cause
    first = rows["coldstart_1_load_to_first"]
    assert first.verdict() == "missed"
    assert "context creation" in first.cause and "first enqueue" in first.cause
    for row in rows.values():
        if row.verdict() == "missed":
            assert row.cause, row.id


def test_a_row_that_did_not_run_says_why(sample):
    _, results = sample
    rows = by_id(report.collect_rows(results))
    compiled = rows["chain_throughput_torch_compile"]
    assert compiled.verdict() == "did not run"
    assert compiled.skipped.startswith("did not run: fullgraph=True: BackendCompilerFailed")
    assert rows["chain_throughput_torch_eager"].verdict() == "met"


def test_missing_and_skipped_benches():
    results = {"kiln_bench": {"bench": "kiln_bench", "status": "skipped",
                              "reason": "no GPU: no libcuda"},
               "chain": {"bench": "chain", "status": "failed",
                         "reason": "exit status 1, no figures; last log line: boom"}}
    rows = report.collect_rows(results)
    assert len(rows) == 24
    assert all(row.verdict() == "did not run" for row in rows)
    ids = by_id(rows)
    assert ids["bandwidth"].skipped == "did not run: no GPU: no libcuda"
    assert "boom" in ids["chain_one_shot_torch_eager"].skipped
    assert "no result" in ids["build_warm"].skipped
    text = report.markdown({"date": "today"}, results, "")
    assert "24 rows: 24 did not run" in text
    assert "## Method" in text


def test_wrong_results_invalidate_the_rows(sample):
    _, results = sample
    results = copy.deepcopy(results)
    results["kiln_bench"]["correct"] = False
    rows = by_id(report.collect_rows(results))
    assert rows["bandwidth"].verdict() == "invalid"
    text = report.markdown({}, results, "")
    assert "invalid: kiln_bench found wrong results" in text


def test_graph_row_skipped_inside_kiln_bench(sample):
    _, results = sample
    results = copy.deepcopy(results)
    results["kiln_bench"]["rows"]["graph_layer"] = {"skipped": "the driver lacks graphs"}
    rows = by_id(report.collect_rows(results))
    assert rows["graph_layer"].skipped == "did not run: the driver lacks graphs"
    assert rows["bandwidth"].verdict() == "met"


def test_spread():
    row = report.Row("x", "x", "x", "x", unit="us", kiln=[1.0, 1.1], baseline=[1.0, 1.0],
                     budget=report.Budget("<=", 1.05))
    assert row.spread() == pytest.approx(0.1)
    assert row.verdict() == "missed"
    assert report.fmt_spread(row.spread()) == "10.0%"


def test_markdown(sample):
    env, results = sample
    notes = "## Analysis (hand-written)\n\nA note kept verbatim | with a pipe.\n"
    text = report.markdown(env, results, notes)
    assert text.startswith("# kiln benchmarks\n")
    head = text.split("## Results")[0]
    for fact in ("2026-11-26", "NVIDIA H100 80GB HBM3", "driver 580.159.04", "CUDA 13.0",
                 "torch 2.11.0+cu130", "Triton 3.6.0", "Python 3.12.3"):
        assert fact in head
    assert text.endswith(notes)  # appended verbatim
    table = text.split("## Results")[1].split("### Misses")[0]
    lines = [line for line in table.splitlines() if line.startswith("| ")]
    assert len(lines) == 1 + 24  # header + rows
    for line in lines[1:]:
        assert line.count(" | ") >= 6  # seven cells in every row
    rows = report.collect_rows(results)
    for row in rows:
        assert row.name.replace("|", "\\|") in table
    assert "| 1.000 / 1.000 | ≥ 0.99 | met |" in table
    assert "**missed**" in table
    assert "### Misses and their causes" in text
    assert "### Cold start, phase by phase" in text
    assert "### 20-layer chain, every variant" in text
    assert "### Python enqueue, every call" in text
    assert "### Build, every run" in text
    assert "CUDA_CACHE_DISABLE=1" in text


def test_console_table(sample):
    _, results = sample
    text = report.console_table(report.collect_rows(results))
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["row", "kiln", "baseline"]
    assert lines[-1].startswith("24 rows: ")
    assert any("did not run" in line for line in lines)


def test_environment_from_nvidia_smi():
    banner = "| NVIDIA-SMI 580.159.04   Driver Version: 580.159.04   CUDA Version: 13.0     |"
    env = report.environment({}, "NVIDIA H100 80GB HBM3, 580.159.04\n", banner, "d", True)
    assert env["gpu"] == "NVIDIA H100 80GB HBM3"
    assert env["driver"] == "580.159.04"
    assert env["cuda"] == "13.0"
    assert env["quick"] is True
    # Without nvidia-smi: what the benches reported.
    env = report.environment({"kiln_bench": {"device": "GPU X", "cuda_driver_version": 12080}})
    assert env["gpu"] == "GPU X" and env["cuda"] == "12.8"


def test_bench_run_renders_recorded_results(tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    notes = tmp_path / "NOTES.md"
    notes.write_text("## Analysis\n\nverbatim notes\n")
    proc = subprocess.run([sys.executable, os.path.join(BENCH, "run"), "--from-json", SAMPLE,
                           "--markdown", str(out), "--notes", str(notes)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "24 rows:" in proc.stdout
    text = out.read_text()
    assert "NVIDIA H100 80GB HBM3" in text
    assert text.endswith("## Analysis\n\nverbatim notes\n")


def test_bench_run_from_a_directory(tmp_path, sample):
    _, results = sample
    for name, res in results.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(res))
    out = tmp_path / "B.md"
    proc = subprocess.run([sys.executable, os.path.join(BENCH, "run"), "--from-json",
                           str(tmp_path), "--markdown", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "NVIDIA H100 80GB HBM3" in out.read_text()


def test_bench_run_rejects_an_unknown_bench(tmp_path):
    proc = subprocess.run([sys.executable, os.path.join(BENCH, "run"), "--only", "nope",
                           "--logs", str(tmp_path), "--markdown", str(tmp_path / "B.md")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "unknown bench nope" in proc.stderr


def test_notes_file_exists_and_is_an_analysis_section():
    with open(os.path.join(BENCH, "NOTES.md")) as f:
        text = f.read()
    assert text.startswith("## Analysis")
    assert "context.run" in text and "2-core" in text


def bench_binary(name, source):
    """A bench from the build that KILN_LIBRARY points into (else build/),
    skipping when it is missing or older than its source."""
    lib = os.environ.get("KILN_LIBRARY")
    build = os.path.dirname(lib) if lib else os.path.join(REPO, "build")
    path = os.path.join(build, name)
    if not os.path.exists(path):
        pytest.skip(f"{path} is not built")
    if os.path.getmtime(path) < os.path.getmtime(os.path.join(BENCH, source)):
        pytest.skip(f"{path} is older than bench/{source}: rebuild it")
    return path


def test_coldstart_simulated_feeds_the_report(tmp_path):
    """kiln_coldstart's whole parent/child protocol with children that skip
    the GPU, and its JSON as the report reads it."""
    out = tmp_path / "coldstart.json"
    proc = subprocess.run([bench_binary("kiln_coldstart", "coldstart.c"), "--simulate", "--kernels", "1,2",
                           "--repeats", "2", "--json", str(out)],
                          capture_output=True, text=True, timeout=300)
    if "UNAVAILABLE" in proc.stderr and "NVRTC" in proc.stderr:
        pytest.skip("no NVRTC to build the engines")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    res = json.loads(out.read_text())
    assert res["status"] == "ok" and res["repeats_done"] == [2, 2]
    rows = by_id(report.rows_coldstart(res))
    assert set(rows) == {f"coldstart_{n}_{k}" for n in (1, 2)
                         for k in ("total", "load", "load_to_first")}
    for row in rows.values():
        assert not row.skipped and len(row.ratios()) == 2
    assert "### Cold start, phase by phase" in report.coldstart_section(res)


def test_build_bench_json_feeds_the_report(tmp_path):
    out = tmp_path / "build.json"
    proc = subprocess.run([bench_binary("kiln_build_bench", "build_bench.c"), "3", "--runs", "2", "--json",
                           str(out)], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 and "UNAVAILABLE" in proc.stderr:
        pytest.skip("no NVRTC or nvJitLink")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    res = json.loads(out.read_text())
    (row,) = report.rows_build(res)
    assert row.verdict() == "met" and len(row.kiln) == 2
