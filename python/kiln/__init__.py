"""kiln: ahead-of-time GPU plugins, TensorRT-style, on kiln's C core.

    import kiln as trt            # the subset of TensorRT's API plugin samples use
    import kiln.plugin as trtp    # tensorrt.plugin's decorators

Errors from the C core are raised as :class:`KilnError` subclasses carrying
``.code`` and the message.
"""

from ._lib import (
    AlreadyExistsError,
    DataLossError,
    DeviceLostError,
    FailedPreconditionError,
    IncompatibleError,
    InternalError,
    InvalidArgumentError,
    KilnError,
    NotFoundError,
    OutOfRangeError,
    ResourceExhaustedError,
    UnavailableError,
    UnimplementedError,
    library_path,
    version,
)
from ._dtypes import (
    DataType,
    TensorFormat,
    bfloat16,
    bool,
    float16,
    float32,
    fp8,
    int8,
    int32,
    int64,
    uint8,
)
from ._network import (
    Builder,
    IBuilderConfig,
    ILayer,
    INetworkDefinition,
    IOptimizationProfile,
    ITensor,
    Logger,
    NetworkDefinitionCreationFlag,
    build,
    create_network,
    inspect,
)
from ._runtime import (
    DeviceBuffer,
    ICudaEngine,
    IExecutionContext,
    Runtime,
    TensorIOMode,
    has_gpu,
)

__version__ = "0.1.0"
