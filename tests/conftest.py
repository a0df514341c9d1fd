"""Fixtures shared by several test modules."""
from __future__ import annotations

import pytest


@pytest.fixture
def one_torch_thread():
    """Small convolutions on a shared CPU are fastest (and far steadier) on one thread; restores the count after."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
