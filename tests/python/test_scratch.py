"""A Triton kernel that needs global scratch memory: device-side TMA tensor
descriptors (``tl.make_tensor_descriptor``) on sm_90, for which Triton 3.6
and 3.9 ask 256 bytes of global scratch per program (the descriptors are
written there). Launched by Triton itself it needs ``triton.set_allocator``;
in kiln the context allocates grid x num_ctas x global_scratch_size bytes and
passes the pointer in the kernel's hidden scratch parameter.

On the CPU: the metadata asks for scratch and the engine records it (text
and JSON description, and `kiln inspect --json`). On a GPU: the engine runs
and matches torch."""

import json
import os
import subprocess
from typing import Tuple, Union

import pytest

from conftest import has_gpu

os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
pytest.importorskip("triton", reason="Triton is not installed")

import triton.language as tl  # noqa: E402

import kiln  # noqa: E402
import kiln.plugin as trtp  # noqa: E402
import kiln.triton as triton  # noqa: E402

AotRet = Tuple[Union[str, bytes], Union[str, bytes], trtp.KernelLaunchParams, trtp.SymExprs]
BLOCK_M, BLOCK_N = 32, 32


@triton.jit
def desc_add_kernel(x_ptr, M, N, y_ptr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    # y = x + 1 on an (M, N) row-major float32 matrix, through TMA descriptors
    # made on the device (N * 4 bytes must be a multiple of 16).
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    xd = tl.make_tensor_descriptor(x_ptr, shape=[M, N], strides=[N, 1],
                                   block_shape=[BLOCK_M, BLOCK_N])
    yd = tl.make_tensor_descriptor(y_ptr, shape=[M, N], strides=[N, 1],
                                   block_shape=[BLOCK_M, BLOCK_N])
    v = xd.load([pid_m * BLOCK_M, pid_n * BLOCK_N])
    yd.store([pid_m * BLOCK_M, pid_n * BLOCK_N], v + 1)


def compile_desc_add():
    src = triton.compiler.ASTSource(
        fn=desc_add_kernel,
        signature={"x_ptr": "*fp32", "M": "i32", "N": "i32", "y_ptr": "*fp32"},
        constexprs={"BLOCK_M": BLOCK_M, "BLOCK_N": BLOCK_N})
    return triton.compile(src)


@pytest.fixture
def sm90_target(monkeypatch):
    """kiln.triton.compile targets sm_90 (GPU or not): the scratch comes
    from sm_90's device-side TMA descriptors."""
    monkeypatch.setenv("KILN_TRITON_TARGET", "cuda:90")


def define(pid, return_ptx_text: bool):
    @trtp.register(pid)
    def desc(inp0: trtp.TensorDesc) -> trtp.TensorDesc:
        return inp0.like()

    @trtp.aot_impl(pid)
    def aot(inp0: trtp.TensorDesc, outputs: Tuple[trtp.TensorDesc], tactic: int) -> AotRet:
        k = compile_desc_add()
        m, n = inp0.shape_expr[0], inp0.shape_expr[1]
        lp = trtp.KernelLaunchParams()
        lp.grid_x = trtp.cdiv(m, BLOCK_M)
        lp.grid_y = trtp.cdiv(n, BLOCK_N)
        lp.block_x = k.metadata.num_warps * 32
        lp.shared_mem = k.metadata.shared
        extra = trtp.SymIntExprs.from_tuple([trtp.SymInt32(m), trtp.SymInt32(n)])
        # The PTX text, as TensorRT's samples return it, or the CompiledKernel:
        # either way kiln learns the scratch size from Triton's metadata.
        return k.metadata.name, (k.asm["ptx"] if return_ptx_text else k), lp, extra


def build(pid) -> bytes:
    ns, name = pid.split("::")
    op = getattr(getattr(trtp.op, ns), name)
    return kiln.build(lambda x: op(x), {"x": (kiln.float32, (-1, -1))},
                      profiles={"x": ((1, 4), (64, 64), (4096, 1024))})


def test_make_tensor_descriptor_needs_global_scratch_on_sm90():
    from triton.backends.compiler import GPUTarget
    src = triton.compiler.ASTSource(
        fn=desc_add_kernel, signature="*fp32,i32,i32,*fp32",
        constants={"BLOCK_M": BLOCK_M, "BLOCK_N": BLOCK_N})
    md = triton.compile(src, target=GPUTarget("cuda", 90, 32)).metadata
    assert md.global_scratch_size > 0, md
    assert md.global_scratch_align >= 1 and md.num_ctas == 1


@pytest.mark.parametrize("return_ptx_text", [False, True], ids=["compiled_kernel", "ptx_text"])
def test_engine_records_the_scratch(uid, sm90_target, return_ptx_text, tmp_path):
    pid = uid("desc_add")
    define(pid, return_ptx_text)
    engine = build(pid)
    md = compile_desc_add().metadata  # from Triton's cache
    size, align = md.global_scratch_size, md.global_scratch_align
    assert size > 0
    text = kiln.inspect(engine)
    assert f"global scratch: {size} bytes per CTA, align {align}" in text, text
    assert "grid = (cdiv(x[0], 32), cdiv(x[1], 32), 1)" in text
    described = json.loads(kiln.inspect(engine, json=True))
    (kernel,) = described["kernels"]
    assert kernel["global_scratch"] == {"size": size, "align": align}
    assert [p["kind"] for p in kernel["params"]][-2:] == ["global_scratch", "profile_scratch"]

    tool = os.path.join(os.path.dirname(getattr(kiln, "library_path")), "kiln")
    if os.path.exists(tool):  # the `kiln` command built next to the library
        path = tmp_path / "desc_add.engine"
        path.write_bytes(engine)
        out = subprocess.run([tool, "inspect", "--json", str(path)], capture_output=True,
                             text=True, check=True).stdout
        assert json.loads(out)["kernels"][0]["global_scratch"] == {"size": size,
                                                                   "align": align}


@pytest.mark.skipif(not has_gpu(), reason="no CUDA GPU (kiln_device_create failed)")
@pytest.mark.parametrize("return_ptx_text", [False, True], ids=["compiled_kernel", "ptx_text"])
def test_scratch_kernel_runs_against_torch(uid, return_ptx_text):
    torch = pytest.importorskip("torch", reason="torch is not installed")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA")
    if torch.cuda.get_device_capability() < (9, 0):
        pytest.skip("device-side TMA descriptors need sm_90 or newer")
    pid = uid("desc_add")
    define(pid, return_ptx_text)
    context = kiln.Runtime().deserialize_cuda_engine(build(pid)).create_execution_context()
    for shape in ((1, 4), (100, 68), (257, 1024), (4096, 36)):
        x = torch.randn(shape, device="cuda")
        y = context.run({"x": x})["y"]
        torch.cuda.synchronize()
        torch.testing.assert_close(y, x + 1, rtol=0, atol=0)
    # Graph mode off (stream launches) gives the same.
    context.graphs = False
    x = torch.randn((300, 200), device="cuda")
    y = context.run({"x": x})["y"]
    torch.cuda.synchronize()
    torch.testing.assert_close(y, x + 1, rtol=0, atol=0)
