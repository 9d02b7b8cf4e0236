"""kiln.plugin: TensorRT's ``tensorrt.plugin`` decorators on kiln's C core.

    import kiln as trt
    import kiln.plugin as trtp

    @trtp.register("my::add_plugin")
    def add_plugin_desc(inp0: trtp.TensorDesc, block_size: int) -> Tuple[trtp.TensorDesc]:
        return inp0.like()

Differences from tensorrt.plugin (bugs B1-B8 of the reference fixed):
``AutoTuneCombination.pos`` takes an int or a list; plain ints in
``SymIntExprs`` become SymInt32; an aot_impl receives exactly the attributes it
declares; ``SymInt32.is_constant``/``constant_value()``/``repr`` work; unknown
type names raise ValueError; ``cdiv(x, 0)`` raises ValueError; reflected
operators (``2 * N``) work.
"""

from ._plugin import (
    PluginCall,
    PluginDef,
    PluginNotFoundError,
    aot_impl,
    autotune,
    impl,
    op,
    register,
    register_all,
)
from ._sym import (
    KernelLaunchParams,
    ShapeExpr,
    ShapeExprs,
    SymExprs,
    SymInt32,
    SymIntExprs,
    cdiv,
    max,
    min,
)
from ._tensor import AutoTuneCombination, Shape, Tensor, TensorDesc, from_shape_expr

__all__ = [
    "op", "register", "impl", "aot_impl", "autotune",
    "SymInt32", "ShapeExpr", "SymExprs", "ShapeExprs", "SymIntExprs",
    "Shape", "Tensor", "TensorDesc", "KernelLaunchParams",
    "cdiv", "max", "min", "from_shape_expr", "AutoTuneCombination",
]
