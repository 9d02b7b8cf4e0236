"""context.run's cached fast path, its out=/reuse_outputs options and the
graphs property, tested without a GPU: a child process loads a fake
libcuda.so.1 (fake_cuda/libcuda.c, built here: host memory as device memory,
the "add_one" kernel computed on the host) and a numpy-backed stand-in for
torch (fake_cuda/torch). The same checks on real torch tensors are in
test_gpu.py."""

import json
import os
import shutil
import subprocess
import sys

import pytest

import kiln

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "fake_cuda")

CHILD = r'''
import json, sys
import numpy as np
import torch  # the stand-in
import kiln
import kiln.plugin as trtp
from kiln import _lib, _runtime
from plugins_ptx import ADD_ONE_PTX
from typing import Tuple, Union

fake = __import__("ctypes").CDLL("libcuda.so.1")
fake.fake_last_stream.restype = __import__("ctypes").c_void_p
results = {}

@trtp.register("fake::add_one")
def desc(inp0: trtp.TensorDesc, block_size: int) -> trtp.TensorDesc:
    return inp0.like()

@trtp.aot_impl("fake::add_one")
def aot(inp0, block_size: int, outputs, tactic) -> Tuple[Union[str, bytes], Union[str, bytes],
                                                        trtp.KernelLaunchParams, trtp.SymExprs]:
    n = inp0.shape_expr.numel()
    lp = trtp.KernelLaunchParams(grid_x=trtp.cdiv(n, block_size), block_x=block_size)
    return "add_one", ADD_ONE_PTX, lp, trtp.SymIntExprs.from_tuple([n])

engine_bytes = kiln.build(lambda x: trtp.op.fake.add_one(x, block_size=256),
                          {"x": (kiln.float32, (-1,))}, profiles={"x": ((1,), (1024,), (8192,))})
engine = kiln.Runtime().deserialize_cuda_engine(engine_bytes)
results["device"] = _runtime.device(0).name

def tensor(n, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(n).astype(np.float32))

def ok(y, x):
    return bool(np.array_equal(y.numpy(), x.numpy() + 1))

# graphs: a property that round-trips, and an option of create_execution_context.
ctx = engine.create_execution_context()
g = [ctx.graphs]
ctx.graphs = False
g.append(ctx.graphs)
ctx.set_graphs(True)
g.append(ctx.graphs)
g.append(engine.create_execution_context(graphs=False).graphs)
results["graphs"] = g
w = [ctx.graph_warmup]
ctx.graph_warmup = 0
w.append(ctx.graph_warmup)
try:
    ctx.graph_warmup = -1
except ValueError as e:
    w.append(str(e))
results["graph_warmup"] = w

# New outputs on each call; shapes alternate (cached per set of shapes).
fresh = []
seen = []
for n in (1000, 1, 4097, 1000, 1):
    x = tensor(n, n)
    y = ctx.run({"x": x})["y"]
    fresh.append(ok(y, x))
    seen.append(y)
results["fresh_ok"] = fresh
results["fresh_distinct"] = len({id(y) for y in seen}) == len(seen)
results["cached_shapes"] = sorted(k[0][0] for k in ctx._fast.shapes)

# out=: written into and returned.
x = tensor(1000, 7)
y = torch.empty((1000,), dtype=torch.float32)
r = ctx.run({"x": x}, out={"y": y})
results["out"] = [r["y"] is y, ok(y, x)]
errors = {}
for label, out in (("shape", {"y": torch.empty((999,), dtype=torch.float32)}),
                   ("dtype", {"y": torch.empty((1000,), dtype=torch.int32)}),
                   ("name", {"z": y})):
    try:
        ctx.run({"x": x}, out=out)
        errors[label] = None
    except ValueError as e:
        errors[label] = str(e)
results["out_errors"] = errors

# reuse_outputs: the same tensors for the same shapes.
a = ctx.run({"x": tensor(100, 1)}, reuse_outputs=True)["y"]
x2 = tensor(100, 2)
b = ctx.run({"x": x2}, reuse_outputs=True)["y"]
c = ctx.run({"x": tensor(200, 3)}, reuse_outputs=True)["y"]
results["reuse"] = [a is b, b is not c, ok(b, x2)]

# Shapes set behind the fast path's back, and a shape outside the profile.
ctx.set_input_shape("x", (5,))
x = tensor(1000, 11)
results["after_set_input_shape"] = ok(ctx.run({"x": x})["y"], x)
try:
    ctx.run({"x": tensor(9000)})
    results["out_of_profile"] = None
except kiln.OutOfRangeError as e:
    results["out_of_profile"] = str(e)
x = tensor(1000, 12)
results["after_error"] = ok(ctx.run({"x": x})["y"], x)

# A non-contiguous input goes through the general path (made contiguous).
x = torch.from_numpy(np.arange(4000, dtype=np.float32))[::2]
results["strided"] = bool(np.array_equal(ctx.run({"x": x})["y"].numpy(),
                                         np.arange(0, 4000, 2, dtype=np.float32) + 1))

# The stream is passed through; the current stream otherwise.
ctx.run({"x": tensor(10)}, stream=0x1234)
results["stream"] = fake.fake_last_stream()
ctx.run({"x": tensor(10)})
results["current_stream"] = fake.fake_last_stream()

# numpy inputs: the general path, out= copies into host arrays.
xn = np.arange(50, dtype=np.float32)
yn = np.zeros(50, np.float32)
r = ctx.run({"x": xn}, out={"y": yn})
results["numpy_out"] = [r["y"] is yn, bool(np.array_equal(yn, xn + 1))]

# Errors the general path names.
for label, feeds in (("missing", {}), ("dtype", {"x": torch.empty((4,), dtype=torch.int32)})):
    try:
        ctx.run(feeds)
        results["error_" + label] = None
    except (ValueError, TypeError) as e:
        results["error_" + label] = str(e)

print("RESULTS " + json.dumps(results))
'''


def _compiler():
    for cc in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if cc and shutil.which(cc):
            return cc
    return None


@pytest.fixture(scope="module")
def child(tmp_path_factory):
    cc = _compiler()
    if cc is None:
        pytest.skip("no C compiler to build the fake libcuda.so.1")
    numpy = pytest.importorskip("numpy")
    del numpy
    lib_dir = tmp_path_factory.mktemp("fake_cuda")
    subprocess.run([cc, "-shared", "-fPIC", "-O1", "-Wl,-soname,libcuda.so.1", "-o",
                    str(lib_dir / "libcuda.so.1"), os.path.join(FAKE, "libcuda.c")],
                   check=True)
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [str(lib_dir),
                                                           env.get("LD_LIBRARY_PATH")]))
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(kiln.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [FAKE, HERE, package_root,
                                                      env.get("PYTHONPATH")]))
    env["KILN_LIBRARY"] = getattr(kiln, "library_path")
    proc = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                          env=env, cwd=str(lib_dir), timeout=300)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULTS ")]
    assert proc.returncode == 0 and lines, proc.stdout + proc.stderr
    return json.loads(lines[-1][len("RESULTS "):])


def test_the_fake_driver_is_the_one_loaded(child):
    assert child["device"].startswith("Fake GPU")


def test_graphs_property_round_trips(child):
    assert child["graphs"] == [True, False, True, False]


def test_graph_warmup_property(child):
    w = child["graph_warmup"]
    assert w[:2] == [1, 0]
    assert "graph_warmup must be in [0, 2^32), got -1" in w[2]


def test_run_makes_new_outputs_by_default(child):
    assert child["fresh_ok"] == [True] * 5
    assert child["fresh_distinct"]
    assert child["cached_shapes"] == [1, 1000, 4097]


def test_run_writes_into_out(child):
    assert child["out"] == [True, True]
    errors = child["out_errors"]
    assert "out['y'] must be a contiguous GPU array of shape (1000,)" in errors["shape"]
    assert "dtype torch.float32" in errors["dtype"]
    assert "out names 'z', which is not an output" in errors["name"]


def test_run_reuses_outputs_when_asked(child):
    assert child["reuse"] == [True, True, True]


def test_run_after_shapes_changed_elsewhere_and_errors(child):
    assert child["after_set_input_shape"]
    assert "dimension 0 is 9000, outside the range [1, 8192]" in child["out_of_profile"]
    assert child["after_error"]
    assert child["strided"]


def test_run_passes_the_stream(child):
    assert child["stream"] == 0x1234
    assert child["current_stream"] is None  # torch's current stream: the legacy one (0)


def test_run_numpy_out_and_general_errors(child):
    assert child["numpy_out"] == [True, True]
    assert "missing x" in child["error_missing"]
    assert "dtype torch.int32" in child["error_dtype"]
