"""A stand-in for torch's CUDA tensors backed by numpy host arrays, for
testing context.run without a GPU together with the fake libcuda.so.1 (whose
"device memory" is host memory). Only what kiln's run path uses."""

import numpy as np

__version__ = "0.0-fake"


class dtype:
    def __init__(self, name):
        self.name = name
        self.np = np.dtype(name)

    def __str__(self):
        return "torch." + self.name

    __repr__ = __str__


float32, float16, bfloat16 = dtype("float32"), dtype("float16"), dtype("float32")
int8, int32, int64, uint8 = dtype("int8"), dtype("int32"), dtype("int64"), dtype("uint8")
bool = dtype("bool")  # noqa: A001 - torch's name
_BY_NP = {d.np: d for d in (float32, float16, int8, int32, int64, uint8, bool)}


class Size(tuple):
    pass


class device:
    def __init__(self, index=0):
        self.type = "cuda"
        self.index = index


class Tensor:
    def __init__(self, array, dev=None):
        self._a = array
        self.device = dev or device(0)
        self.is_cuda = True

    @property
    def shape(self):
        return Size(self._a.shape)

    @property
    def dtype(self):
        return _BY_NP[self._a.dtype]

    def data_ptr(self):
        return self._a.ctypes.data

    def is_contiguous(self):
        return self._a.flags.c_contiguous

    def contiguous(self):
        return self if self.is_contiguous() else Tensor(np.ascontiguousarray(self._a), self.device)

    def get_device(self):
        return self.device.index

    def numpy(self):
        return self._a

    def new_empty(self, shape, dtype=None):
        return Tensor(np.empty(tuple(shape), (dtype or self.dtype).np), self.device)

    def __getitem__(self, index):
        return Tensor(self._a[index], self.device)


def empty(shape, dtype=None, device=None):
    return Tensor(np.empty(tuple(shape), (dtype or float32).np), device)


def from_numpy(array):
    return Tensor(array)


class _Stream:
    cuda_stream = 0


class cuda:
    @staticmethod
    def is_available():
        return True

    @staticmethod
    def current_stream(dev=None):
        return _Stream()


class _C:
    @staticmethod
    def _cuda_getCurrentRawStream(index):
        return 0
