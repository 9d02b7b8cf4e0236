"""Loads a kiln engine file and runs it once on random numpy data, in a process
that defines no plugins (an AOT engine needs none).

    python examples/python/run_engine.py ENGINE [--shape x=4096] [--save io.npz]

--shape NAME=D0,D1,...  sets a dynamic input's shape (default: its static
                        shape, or the engine's dims with -1 read as 1);
--save FILE             writes inputs and outputs, by tensor name, to FILE (.npz).

Without a GPU it prints what ``kiln.inspect`` says about the engine and that
running needs a GPU; it exits 0 then, having written nothing.
"""

import argparse
import sys

import numpy as np

import kiln


def parse_shapes(items):
    shapes = {}
    for item in items or []:
        name, _, dims = item.partition("=")
        if not name or not dims:
            raise SystemExit(f"run_engine: --shape wants NAME=D0,D1,..., got '{item}'")
        shapes[name] = tuple(int(d) for d in dims.split(","))
    return shapes


def random_input(dtype, shape, rng):
    np_dtype = kiln._dtypes.to_numpy(dtype)
    if np.issubdtype(np_dtype, np.floating):
        return rng.standard_normal(shape).astype(np_dtype)
    if np_dtype == np.bool_:
        return rng.integers(0, 2, shape).astype(np.bool_)
    return rng.integers(-100, 100, shape).astype(np_dtype)


def run(data: bytes, shapes: dict, seed: int = 0) -> dict:
    engine = kiln.Runtime().deserialize_cuda_engine(data)
    context = engine.create_execution_context()
    rng = np.random.default_rng(seed)
    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    inputs = [n for n in names if engine.get_tensor_mode(n) == kiln.TensorIOMode.INPUT]
    outputs = [n for n in names if n not in inputs]
    arrays, buffers = {}, {}
    for name in inputs:
        shape = shapes.get(name, tuple(1 if d < 0 else d for d in engine.get_tensor_shape(name)))
        context.set_input_shape(name, shape)
        arrays[name] = random_input(engine.get_tensor_dtype(name), shape, rng)
        buffers[name] = kiln.DeviceBuffer.from_numpy(arrays[name])
        context.set_tensor_address(name, buffers[name].address)
    for name in outputs:
        shape = context.get_tensor_shape(name)
        np_dtype = kiln._dtypes.to_numpy(engine.get_tensor_dtype(name))
        buffers[name] = kiln.DeviceBuffer(max(1, int(np.prod(shape))) * np_dtype.itemsize)
        context.set_tensor_address(name, buffers[name].address)
    context.execute_async_v3(0)  # the legacy default stream
    for name in outputs:
        # A copy back waits for work on the default stream.
        arrays[name] = buffers[name].to_numpy(kiln._dtypes.to_numpy(
            engine.get_tensor_dtype(name)), context.get_tensor_shape(name))
    for b in buffers.values():
        b.free()
    return arrays


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("engine")
    ap.add_argument("--shape", action="append", metavar="NAME=D0,D1,...")
    ap.add_argument("--save", metavar="FILE.npz")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    with open(args.engine, "rb") as f:
        data = f.read()
    if not kiln.has_gpu():
        print(kiln.inspect(data))
        try:
            kiln.Runtime().deserialize_cuda_engine(data)
        except kiln.KilnError as e:
            reason = e.message
        else:  # pragma: no cover - has_gpu said no
            reason = "no GPU"
        print(f"run_engine: running {args.engine} needs a CUDA GPU, and this machine has none "
              f"({reason.split(';')[0]}); the engine was built and inspected only.")
        return 0
    arrays = run(data, parse_shapes(args.shape), args.seed)
    for name, a in arrays.items():
        print(f"run_engine: {name}: {a.dtype} {a.shape}")
    if args.save:
        np.savez(args.save, **arrays)
    return 0


if __name__ == "__main__":
    sys.exit(main())
