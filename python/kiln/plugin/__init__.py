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

Beyond tensorrt.plugin: an aot_impl, impl or autotune function may declare an
annotated attribute that ``register`` does not (the seed's ``single_tactic:
bool``); kiln warns (logger "kiln.plugin") and adds it to the plugin's
attributes, which the layer then gives (``trtp.op.ns.name(x, ...,
single_tactic=True)``) unless the function gives it a default.
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
    SizeTensorShapeExpr,
    SymExprs,
    SymInt32,
    SymIntExprs,
    cdiv,
    max,
    min,
)
from ._tensor import (
    AutoTuneCombination,
    Shape,
    SizeTensorDesc,
    Tensor,
    TensorDesc,
    from_shape_expr,
    size_tensor,
)

__all__ = [
    "op", "register", "impl", "aot_impl", "autotune",
    "SymInt32", "ShapeExpr", "SymExprs", "ShapeExprs", "SymIntExprs",
    "Shape", "Tensor", "TensorDesc", "KernelLaunchParams",
    "cdiv", "max", "min", "from_shape_expr", "AutoTuneCombination",
    "size_tensor", "SizeTensorDesc", "SizeTensorShapeExpr",
]
