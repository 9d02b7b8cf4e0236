"""examples/python: each builds, saves, and runs (GPU) or inspects (no GPU) its
engines in a fresh process with no plugin definitions."""

import os
import subprocess
import sys

import pytest

from conftest import has_gpu

pytest.importorskip("triton", reason="Triton is not installed")

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples",
                        "python")


def run_example(name, *args):
    env = dict(os.environ, TRITON_DEFAULT_FP_FUSION="1")
    proc = subprocess.run([sys.executable, os.path.join(EXAMPLES, name), *args],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_add_plugin_example(tmp_path):
    engine = tmp_path / "add.engine"
    out = run_example("add_plugin.py", str(engine))
    assert engine.stat().st_size > 0
    if has_gpu():
        assert "add_plugin: OK, y == x + 1" in out
    else:
        assert "layer 0 \"add_plugin_0\": my::add_plugin, AOT" in out
        assert "needs a CUDA GPU" in out


def test_circ_pad_example(tmp_path):
    out = run_example("circ_pad.py", str(tmp_path))
    for tag in ("fp32", "fp16"):
        assert (tmp_path / f"circ_pad_{tag}.engine").stat().st_size > 0
        if has_gpu():
            assert f"circ_pad: {tag} OK" in out
    if not has_gpu():
        assert '"y": float16 LINEAR [10, 3, 34, 34]' in out
        assert '"y": float32 LINEAR [10, 3, 34, 34]' in out
        assert out.count("needs a CUDA GPU") == 2
