"""Shared helpers for kiln's Python tests."""

import itertools

import pytest

_counter = itertools.count()


@pytest.fixture
def uid():
    """A fresh plugin namespace per call: the process-wide registry never
    forgets a plugin, so each test registers under its own ids."""

    def make(name="op"):
        return f"t{next(_counter)}::{name}"

    return make


def has_gpu():
    try:
        from kiln import _runtime
        _runtime.device(0)
        return True
    except Exception:
        return False
