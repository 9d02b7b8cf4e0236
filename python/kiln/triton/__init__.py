"""kiln.triton: the installed Triton, plus the two things plugin code written
for older Triton needs to run on current Triton.

    import kiln.triton as triton     # instead of: import triton
    import triton.language as tl     # unchanged

Everything of the installed ``triton`` is re-exported (``triton.jit``,
``triton.language``, ``triton.cdiv``, ``triton.set_allocator``, ...: a
module-level ``__getattr__`` forwards each name). Two names differ:

``triton.compiler.ASTSource(fn, signature, constants=None, constexprs=None,
attrs=None)`` accepts both forms of the source description:

* the legacy form (Triton <= 3.1, and TensorRT's ``aot_impl`` docstring): a
  comma-separated string ``signature="*fp32,i32,*fp32"`` listing the types of
  the kernel's parameters that are not ``tl.constexpr``, in order, and
  ``constants={"BLOCK_SIZE": 256}`` keyed by parameter name or index;
* the current form (Triton >= 3.2, which rejects the legacy one): a dict
  ``signature={"x_ptr": "*fp32", "n_elements": "i32", "y_ptr": "*fp32"}`` and
  ``constexprs={"BLOCK_SIZE": 256}``.

The legacy form is translated exactly into the current one, using the
kernel's own parameter list: the string's types go to the non-constexpr
parameters in order (a non-constexpr parameter given in ``constants`` may be
listed or left out of the string; it becomes a constexpr, as old Triton's
specialization made it), and a ``tl.constexpr`` parameter given no value
takes its default. The result is a ``triton.compiler.ASTSource`` (a
subclass), so Triton's own ``compile`` takes it. Errors name the kernel and
the parameter.

``triton.compile(src, target=None, ...)``: Triton's compile, except that
when no ``target`` is given and the environment variable
``KILN_TRITON_TARGET`` is set, it compiles for that target instead of asking
the driver for the current GPU, so a machine with no GPU (CI) can build
engines: ``KILN_TRITON_TARGET=cuda:90`` (an sm_90 target, warp size 32),
``cuda:100``, ``hip:gfx942`` (warp size 64), or ``BACKEND:ARCH:WARP_SIZE``.
Without the variable and without a GPU, the error says to set it.

Importing kiln.triton imports Triton; ``import kiln`` alone does not.
"""

from __future__ import annotations

import triton as _triton

from . import compiler
from .compiler import TARGET_ENV, compile, target_from_env

__all__ = list(getattr(_triton, "__all__", [])) + ["compile", "compiler", "target_from_env",
                                                   "TARGET_ENV"]
__version__ = getattr(_triton, "__version__", "")


def __getattr__(name: str):
    try:
        return getattr(_triton, name)
    except AttributeError:
        raise AttributeError(f"module 'kiln.triton' has no attribute '{name}' (nor has the "
                             f"installed triton {__version__})") from None


def __dir__():
    return sorted(set(dir(_triton)) | set(globals()))

