"""kiln.triton.compiler: ``triton.compiler`` with an ``ASTSource`` that takes
both the legacy and the current source description, and a ``compile`` that
honours ``KILN_TRITON_TARGET``. See kiln.triton's docstring."""

from __future__ import annotations

import inspect
import os

import triton as _triton
import triton.compiler as _compiler

__all__ = list(getattr(_compiler, "__all__", [])) + ["target_from_env", "launch_metadata",
                                                     "TARGET_ENV"]

TARGET_ENV = "KILN_TRITON_TARGET"

_TritonASTSource = _compiler.ASTSource
_CURRENT_FORM = "constexprs" in inspect.signature(_TritonASTSource.__init__).parameters


def __getattr__(name: str):
    try:
        return getattr(_compiler, name)
    except AttributeError:
        raise AttributeError(f"module 'kiln.triton.compiler' has no attribute '{name}'") from None


def __dir__():
    return sorted(set(dir(_compiler)) | set(globals()))


#===----------------------------------------------------------------------===#
# ASTSource
#===----------------------------------------------------------------------===#


def _kernel_name(fn) -> str:
    return getattr(fn, "__name__", None) or getattr(getattr(fn, "fn", None), "__name__", repr(fn))


def _params(fn):
    """[(name, is_constexpr, default)] of a JITFunction, or None when |fn| is
    not one (then nothing is translated)."""
    params = getattr(fn, "params", None)
    names = getattr(fn, "arg_names", None)
    if params is None or names is None:
        return None
    out = []
    for p in params:
        default = getattr(p, "default", inspect.Parameter.empty)
        out.append((p.name, bool(getattr(p, "is_constexpr", False)), default))
    return out


def _name_of(where: str, names: list, key, what: str) -> str:
    """A parameter name from a name or an index into the parameter list."""
    if isinstance(key, str):
        if key not in names:
            raise ValueError(f"{where}: {what} names parameter '{key}', which the kernel does "
                             f"not have (its parameters: {', '.join(names)})")
        return key
    if isinstance(key, int) and not isinstance(key, bool):
        if not 0 <= key < len(names):
            raise ValueError(f"{where}: {what} has index {key}, but the kernel has "
                             f"{len(names)} parameters ({', '.join(names)})")
        return names[key]
    raise TypeError(f"{where}: {what} key {key!r} must be a parameter name or index")


def translate(fn, signature, constants=None, constexprs=None):
    """Returns (signature dict, constexprs dict) in the current form for
    either form of the arguments; see kiln.triton. Raises TypeError or
    ValueError naming the kernel and the parameter."""
    kernel = _kernel_name(fn)
    where = f"triton.compiler.ASTSource(fn={kernel})"
    params = _params(fn)
    if params is None:
        if isinstance(signature, str):
            raise TypeError(f"{where}: a string signature needs a @triton.jit function, whose "
                            f"parameter list names the types; got {type(fn).__name__}")
        merged = dict(constants or {})
        merged.update(constexprs or {})
        return signature, merged
    names = [p[0] for p in params]
    is_constexpr = {p[0]: p[1] for p in params}

    # Constants: constexprs= (current) and constants= (legacy), by name,
    # index or (current) path tuple.
    values: dict = {}
    for what, given in (("constants", constants), ("constexprs", constexprs)):
        if given is None:
            continue
        if not isinstance(given, dict):
            raise TypeError(f"{where}: {what}= must be a dict, got {type(given).__name__}")
        for key, value in given.items():
            if isinstance(key, tuple) and len(key) > 1:
                values[key] = value  # a path into a tuple argument: as given
                continue
            if isinstance(key, tuple):
                key = key[0]
            name = _name_of(where, names, key, what)
            if name in values:
                raise ValueError(f"{where}: parameter '{name}' is given twice (constants= "
                                 "and constexprs=, or by name and by index)")
            values[name] = value

    # The signature.
    if isinstance(signature, str):
        types = [t.strip() for t in signature.split(",")]
        if any(not t for t in types):
            raise ValueError(f"{where}: signature '{signature}' has an empty entry")
        runtime = [n for n in names if not is_constexpr[n]]
        unspecialized = [n for n in runtime if n not in values]
        if len(types) == len(runtime):
            listed = runtime
        elif len(types) == len(unspecialized):
            listed = unspecialized
        else:
            want = f"{len(runtime)} ({', '.join(runtime)})"
            if len(unspecialized) != len(runtime):
                want += f" or, leaving out those given in constants, {len(unspecialized)}"
            raise ValueError(f"{where}: signature '{signature}' lists {len(types)} types; the "
                             f"kernel's non-constexpr parameters number {want}")
        sig = dict(zip(listed, types))
    elif isinstance(signature, dict):
        sig = {}
        for key, ty in signature.items():
            name = _name_of(where, names, key, "signature")
            if name in sig:
                raise ValueError(f"{where}: signature gives parameter '{name}' twice")
            if not isinstance(ty, str) and not isinstance(ty, tuple):
                raise TypeError(f"{where}: signature type of parameter '{name}' must be a str "
                                f"such as '*fp32' or 'i32', got {ty!r}")
            sig[name] = ty
        for name in names:
            if not is_constexpr[name] and name not in sig and name not in values:
                raise ValueError(f"{where}: parameter '{name}' has no type in signature= (and "
                                 "no value in constexprs=)")
    else:
        raise TypeError(f"{where}: signature must be a dict {{name: type}} or a "
                        f"comma-separated str, got {type(signature).__name__}")

    # Constexpr parameters: a value, else the default, else an error.
    for name, constexpr, default in params:
        if not constexpr or name in values:
            continue
        if name in sig and sig[name] != "constexpr":
            raise ValueError(f"{where}: parameter '{name}' is tl.constexpr; give its value in "
                             "constexprs= (or constants=), not a type in signature=")
        if default is inspect.Parameter.empty:
            raise ValueError(f"{where}: parameter '{name}' is tl.constexpr and has no value: "
                             "give it in constexprs= (or constants=)")
        values[name] = default
    return sig, values


class ASTSource(_TritonASTSource):
    """``triton.compiler.ASTSource`` accepting the legacy form (string
    signature, ``constants=``) as well as the current one (dict signature,
    ``constexprs=``); see kiln.triton."""

    def __init__(self, fn, signature, constants=None, constexprs=None, attrs=None, **kwargs):
        if not _CURRENT_FORM:  # Triton < 3.2: it takes the legacy form itself
            merged = dict(constants or {})
            merged.update(constexprs or {})
            super().__init__(fn, signature, constants=merged or None, attrs=attrs, **kwargs)
            return
        sig, values = translate(fn, signature, constants, constexprs)
        super().__init__(fn, sig, constexprs=values or None, attrs=attrs, **kwargs)


#===----------------------------------------------------------------------===#
# compile
#===----------------------------------------------------------------------===#


def target_from_env(value: str | None = None):
    """The GPUTarget that ``KILN_TRITON_TARGET`` (or |value|) names, or None
    when it is unset or empty. Forms: ``cuda:90``, ``hip:gfx942``,
    ``BACKEND:ARCH:WARP_SIZE``; a bare ``90`` or ``sm_90`` means cuda."""
    if value is None:
        value = os.environ.get(TARGET_ENV, "")
    text = value.strip()
    if not text:
        return None
    from triton.backends.compiler import GPUTarget
    parts = [p.strip() for p in text.split(":")]
    if len(parts) == 1:
        parts = ["cuda", parts[0]]
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(f"{TARGET_ENV}='{value}': expected BACKEND:ARCH[:WARP_SIZE], such as "
                         "cuda:90 or hip:gfx942")
    backend, arch = parts[0].lower(), parts[1]
    if backend == "cuda":
        digits = arch[3:] if arch.lower().startswith("sm_") else arch
        if not digits.isdigit():
            raise ValueError(f"{TARGET_ENV}='{value}': a cuda architecture is a number such as "
                             "90 (sm_90) or 100")
        arch_value = int(digits)
        warp = 32
    else:
        arch_value = arch
        warp = 64 if backend == "hip" else 32
    if len(parts) == 3:
        if not parts[2].isdigit():
            raise ValueError(f"{TARGET_ENV}='{value}': the warp size '{parts[2]}' is not a "
                             "number")
        warp = int(parts[2])
    return GPUTarget(backend, arch_value, warp)


# What kiln needs from the metadata of the kernels compiled here, by the
# SHA-256 of their PTX, so that an aot_impl returning ``compiled.asm["ptx"]``
# (as TensorRT's samples do) rather than the CompiledKernel still tells kiln
# how much Triton scratch the kernel needs. Bounded; the oldest go first.
_LAUNCH_METADATA: dict = {}
_LAUNCH_METADATA_MAX = 1024
_METADATA_FIELDS = ("global_scratch_size", "global_scratch_align", "profile_scratch_size",
                    "profile_scratch_align", "num_ctas")


def _ptx_key(ptx) -> bytes | None:
    import hashlib
    if isinstance(ptx, str):
        ptx = ptx.encode("utf-8")
    if not isinstance(ptx, (bytes, bytearray, memoryview)):
        return None
    return hashlib.sha256(bytes(ptx)).digest()


def _remember(kernel) -> None:
    md = getattr(kernel, "metadata", None)
    asm = getattr(kernel, "asm", None)
    try:
        ptx = asm.get("ptx") if asm is not None else None
    except Exception:  # noqa: BLE001 - an unusual asm mapping: nothing to remember
        return
    key = _ptx_key(ptx)
    if key is None or md is None:
        return
    _LAUNCH_METADATA.pop(key, None)
    _LAUNCH_METADATA[key] = {f: getattr(md, f, None) for f in _METADATA_FIELDS}
    while len(_LAUNCH_METADATA) > _LAUNCH_METADATA_MAX:
        _LAUNCH_METADATA.pop(next(iter(_LAUNCH_METADATA)))


def launch_metadata(ptx) -> dict | None:
    """The scratch sizes, alignments and num_ctas of the kernel whose PTX is
    |ptx| (str or bytes), when kiln.triton.compile compiled it in this
    process; None otherwise."""
    key = _ptx_key(ptx)
    return None if key is None else _LAUNCH_METADATA.get(key)


def compile(src, target=None, *args, **kwargs):  # noqa: A001 - Triton's name
    """``triton.compile``; with no |target|, ``KILN_TRITON_TARGET`` (when set)
    picks it, else the current GPU does."""
    if target is None:
        target = target_from_env()
    if target is None:
        try:
            target = _triton.runtime.driver.active.get_current_target()
        except Exception as e:  # noqa: BLE001 - Triton raises RuntimeError without a GPU
            raise RuntimeError(
                f"triton.compile: no GPU to compile for ({e}); pass target=GPUTarget(...) or "
                f"set {TARGET_ENV}=cuda:90 (or another architecture) to compile without "
                "one") from e
    kernel = _compiler.compile(src, target, *args, **kwargs)
    _remember(kernel)
    return kernel
