"""kiln.triton: the installed Triton re-exported, an ASTSource taking the
legacy form (string signature, constants=) as well as the current one, and a
compile that honours KILN_TRITON_TARGET."""

import os

import pytest

os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
real_triton = pytest.importorskip("triton", reason="Triton is not installed")

import triton.language as tl  # noqa: E402
from triton.backends.compiler import GPUTarget  # noqa: E402

import kiln.triton as triton  # noqa: E402

SM90 = GPUTarget("cuda", 90, 32)


@triton.jit
def add_kernel(x_ptr, n_elements, y_ptr, BLOCK_SIZE: tl.constexpr):
    pid = tl.program_id(0)
    offsets = pid * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    mask = offsets < n_elements
    x = tl.load(x_ptr + offsets, mask=mask)
    tl.store(y_ptr + offsets, x + 1, mask=mask)


@triton.jit
def scale_kernel(x_ptr, n, y_ptr, SCALE: tl.constexpr = 2, BLOCK: tl.constexpr = 128):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(y_ptr + offs, tl.load(x_ptr + offs, mask=offs < n) * SCALE, mask=offs < n)


def test_reexports_the_installed_triton():
    assert triton.jit is real_triton.jit
    assert triton.language is real_triton.language
    assert triton.cdiv is real_triton.cdiv
    assert triton.__version__ == real_triton.__version__
    assert triton.compiler.CompiledKernel is real_triton.compiler.CompiledKernel
    assert "jit" in dir(triton)
    with pytest.raises(AttributeError, match="kiln.triton.*no attribute 'no_such_name'"):
        triton.no_such_name


def test_legacy_form_translates_to_the_current_one():
    legacy = triton.compiler.ASTSource(fn=add_kernel, signature="*fp32, i32, *fp32",
                                       constants={"BLOCK_SIZE": 256})
    assert isinstance(legacy, real_triton.compiler.ASTSource)
    assert legacy.signature == {"x_ptr": "*fp32", "n_elements": "i32", "y_ptr": "*fp32"}
    current = real_triton.compiler.ASTSource(
        fn=add_kernel, signature={"x_ptr": "*fp32", "n_elements": "i32", "y_ptr": "*fp32"},
        constexprs={"BLOCK_SIZE": 256})
    assert legacy.constants == current.constants
    assert legacy.hash() == current.hash()
    by_index = triton.compiler.ASTSource(fn=add_kernel, signature="*fp32,i32,*fp32",
                                         constants={3: 256})
    assert by_index.hash() == current.hash()
    # The current form passes through unchanged.
    same = triton.compiler.ASTSource(
        fn=add_kernel, signature={"x_ptr": "*fp32", "n_elements": "i32", "y_ptr": "*fp32"},
        constexprs={"BLOCK_SIZE": 256})
    assert same.hash() == current.hash()


def test_legacy_form_compiles_to_the_same_ptx():
    legacy = triton.compile(triton.compiler.ASTSource(
        fn=add_kernel, signature="*fp16,i32,*fp16", constants={"BLOCK_SIZE": 512}), target=SM90)
    current = real_triton.compile(real_triton.compiler.ASTSource(
        fn=add_kernel, signature={"x_ptr": "*fp16", "n_elements": "i32", "y_ptr": "*fp16"},
        constexprs={"BLOCK_SIZE": 512}), target=SM90)
    assert legacy.asm["ptx"] == current.asm["ptx"]
    assert legacy.metadata.name == "add_kernel"


def test_specialized_parameter_may_be_listed_or_left_out():
    listed = triton.compiler.ASTSource(fn=add_kernel, signature="*fp32,i32,*fp32",
                                       constants={"BLOCK_SIZE": 64, "n_elements": 1})
    left_out = triton.compiler.ASTSource(fn=add_kernel, signature="*fp32,*fp32",
                                         constants={"BLOCK_SIZE": 64, "n_elements": 1})
    assert left_out.signature == {"x_ptr": "*fp32", "y_ptr": "*fp32"}
    a = triton.compile(listed, target=SM90).asm["ptx"]
    b = triton.compile(left_out, target=SM90).asm["ptx"]
    assert a == b


def test_constexpr_defaults_are_used():
    src = triton.compiler.ASTSource(fn=scale_kernel, signature="*fp32,i32,*fp32",
                                    constants={"SCALE": 3})
    assert {scale_kernel.arg_names[k[0]]: v for k, v in src.constants.items()} == \
        {"SCALE": 3, "BLOCK": 128}


@pytest.mark.parametrize("kwargs, message", [
    (dict(signature="*fp32,i32", constants={"BLOCK_SIZE": 4}),
     r"signature '\*fp32,i32' lists 2 types; the kernel's non-constexpr parameters number 3 "
     r"\(x_ptr, n_elements, y_ptr\)"),
    (dict(signature="*fp32,i32,*fp32"), "parameter 'BLOCK_SIZE' is tl.constexpr and has no value"),
    (dict(signature="*fp32,i32,*fp32", constants={"BLOK": 4}),
     "constants names parameter 'BLOK', which the kernel does not have"),
    (dict(signature="*fp32,,*fp32", constants={"BLOCK_SIZE": 4}), "has an empty entry"),
    (dict(signature={"x_ptr": "*fp32", "y_ptr": "*fp32"}, constexprs={"BLOCK_SIZE": 4}),
     "parameter 'n_elements' has no type in signature="),
    (dict(signature={"x_ptr": "*fp32", "n": "i32", "y_ptr": "*fp32"},
          constexprs={"BLOCK_SIZE": 4}), "signature names parameter 'n', which the kernel"),
    (dict(signature="*fp32,i32,*fp32", constants={"BLOCK_SIZE": 4}, constexprs={3: 4}),
     "parameter 'BLOCK_SIZE' is given twice"),
    (dict(signature="*fp32,i32,*fp32", constants={9: 4}), "has index 9, but the kernel has 4"),
])
def test_mistakes_name_the_kernel_and_the_parameter(kwargs, message):
    with pytest.raises(ValueError, match=message) as info:
        triton.compiler.ASTSource(fn=add_kernel, **kwargs)
    assert "ASTSource(fn=add_kernel)" in str(info.value)


def test_target_from_env_forms():
    assert triton.target_from_env("cuda:90") == GPUTarget("cuda", 90, 32)
    assert triton.target_from_env(" sm_100 ") == GPUTarget("cuda", 100, 32)
    assert triton.target_from_env("90") == GPUTarget("cuda", 90, 32)
    assert triton.target_from_env("hip:gfx942") == GPUTarget("hip", "gfx942", 64)
    assert triton.target_from_env("hip:gfx1100:32") == GPUTarget("hip", "gfx1100", 32)
    assert triton.target_from_env("") is None
    for bad in ("cuda:nine", "cuda:90:x", "a:b:c:d", "cuda:"):
        with pytest.raises(ValueError, match="KILN_TRITON_TARGET"):
            triton.target_from_env(bad)


def test_compile_uses_the_env_target_when_none_is_given(monkeypatch):
    monkeypatch.setenv("KILN_TRITON_TARGET", "cuda:90")
    k = triton.compile(triton.compiler.ASTSource(fn=add_kernel, signature="*fp32,i32,*fp32",
                                                 constants={"BLOCK_SIZE": 128}))
    assert k.metadata.target == SM90
    # An explicit target wins over the variable.
    monkeypatch.setenv("KILN_TRITON_TARGET", "cuda:80")
    k = triton.compile(triton.compiler.ASTSource(fn=add_kernel, signature="*fp32,i32,*fp32",
                                                 constants={"BLOCK_SIZE": 128}), target=SM90)
    assert k.metadata.target == SM90
    # kiln remembers the scratch needs of PTX it compiled (for aot_impls that
    # return compiled.asm["ptx"]).
    md = triton.compiler.launch_metadata(k.asm["ptx"])
    assert md is not None and md["num_ctas"] == 1
    assert triton.compiler.launch_metadata("not ptx") is None


def test_compile_without_gpu_or_target_says_what_to_set(monkeypatch):
    from conftest import has_gpu
    if has_gpu():
        pytest.skip("there is a GPU to compile for")
    monkeypatch.delenv("KILN_TRITON_TARGET", raising=False)
    with pytest.raises(RuntimeError, match="set KILN_TRITON_TARGET=cuda:90"):
        triton.compile(triton.compiler.ASTSource(fn=add_kernel, signature="*fp32,i32,*fp32",
                                                 constants={"BLOCK_SIZE": 128}))
