"""The seed (tensorrt.plugin.aot_impl's docstring example) verbatim, with only
its imports changed: as written its plugin ids disagree and it fails naming
both; with that typo fixed it builds an engine (compiled for sm_90 through
KILN_TRITON_TARGET when there is no GPU) and, on a GPU, runs on torch tensors.

The seed needs no other change: its `single_tactic: bool` parameter, which
trtp.register does not declare, becomes an attribute that the layer gives,
and kiln.triton takes its legacy string signature and constants=."""

import os

import pytest

from conftest import has_gpu

os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
pytest.importorskip("triton", reason="Triton is not installed")

import kiln  # noqa: E402
from kiln.plugin import _plugin  # noqa: E402

# The seed's imports were `import tensorrt.plugin as trtp`, `import triton`
# and `import triton.language as tl` (it uses trt, Tuple and Union without
# importing them).
SEED_IMPORTS = """\
import kiln as trt
import kiln.plugin as trtp
import kiln.triton as triton
import triton.language as tl
from typing import Tuple, Union
"""

# The seed after its imports, verbatim.
SEED_BODY = r'''
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

@trtp.aot_impl("my::elemwise_add_plugin")
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
'''

TYPO = '@trtp.aot_impl("my::elemwise_add_plugin")'
FIXED = '@trtp.aot_impl("my::add_plugin")'


def seed_fixed() -> str:
    assert SEED_BODY.count(TYPO) == 1
    return SEED_BODY.replace(TYPO, FIXED)


@pytest.fixture
def fresh_registry(monkeypatch):
    """An empty plugin registry (Python and C) for the test: the seed's ids
    are fixed, and a process registers an id once."""
    monkeypatch.setattr(_plugin, "_PLUGINS", {})
    monkeypatch.setattr(_plugin.op, "_namespaces", {})
    monkeypatch.setattr(_plugin, "_registry_ptr", None)


@pytest.fixture
def triton_target(monkeypatch):
    """Without a GPU, kiln.triton.compile compiles for sm_90."""
    if not has_gpu():
        monkeypatch.setenv("KILN_TRITON_TARGET", "cuda:90")


def exec_seed(tmp_path, body: str) -> dict:
    """Runs the seed as a module of its own (Triton reads a kernel's source
    from its file) and returns its namespace."""
    import runpy
    path = tmp_path / "seed.py"
    path.write_text(SEED_IMPORTS + body)
    return runpy.run_path(str(path), run_name="seed")


def test_seed_as_written_names_both_ids(tmp_path, fresh_registry):
    with pytest.raises(LookupError) as info:
        exec_seed(tmp_path, SEED_BODY)
    msg = str(info.value)
    assert "my::elemwise_add_plugin" in msg and "my::add_plugin" in msg
    assert isinstance(info.value, ValueError)


def build_seed_engine(ns: dict, dtype=kiln.float32) -> bytes:
    trt, trtp = ns["trt"], ns["trtp"]
    builder, network = trt.create_network()
    x = network.add_input("x", dtype, (-1,))
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


def test_seed_with_the_typo_fixed_builds(tmp_path, fresh_registry, triton_target, caplog):
    ns = exec_seed(tmp_path, seed_fixed())
    assert any("single_tactic" in r.getMessage() and "my::add_plugin" in r.getMessage()
               for r in caplog.records)
    for dtype, ptr in ((kiln.float32, "f32"), (kiln.float16, "f16")):
        text = kiln.inspect(build_seed_engine(ns, dtype))
        assert 'layer 0 "add_plugin_0": my::add_plugin, AOT' in text
        assert "kernel 0 add_kernel" in text
        assert "grid = (cdiv(x[0], 256), 1, 1)" in text
        assert "block = (128, 1, 1)" in text
        assert "arg 0: int32 = x[0]" in text
        assert f'"y": {kiln.DataType(dtype).kiln_name}' in text, text
    with pytest.raises(ValueError, match="missing single_tactic"):
        _, network = kiln.create_network()
        ns["trtp"].op.my.add_plugin(network.add_input("x", kiln.float32, (-1,)), block_size=256)


def test_example_holds_the_seed_verbatim():
    """examples/python/add_plugin.py is the seed with its imports changed and
    the typo fixed."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples",
                        "python", "add_plugin.py")
    with open(path) as f:
        text = f.read()
    assert seed_fixed().strip() in text
    assert SEED_IMPORTS in text


@pytest.mark.skipif(not has_gpu(), reason="no CUDA GPU (kiln_device_create failed)")
def test_seed_runs_on_the_gpu(tmp_path, fresh_registry):
    torch = pytest.importorskip("torch", reason="torch is not installed")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA")
    ns = exec_seed(tmp_path, seed_fixed())
    engine = kiln.Runtime().deserialize_cuda_engine(build_seed_engine(ns))
    context = engine.create_execution_context()
    for n in (1, 1000, 100003):
        x = torch.randn(n, device="cuda")
        y = context.run({"x": x})["y"]
        torch.cuda.synchronize()
        torch.testing.assert_close(y, x + 1, rtol=0, atol=0)
    half = kiln.Runtime().deserialize_cuda_engine(build_seed_engine(ns, kiln.float16))
    x = torch.randn(4099, device="cuda", dtype=torch.float16)
    y = half.create_execution_context().run({"x": x})["y"]
    torch.cuda.synchronize()
    torch.testing.assert_close(y, x + 1, rtol=0, atol=0)
