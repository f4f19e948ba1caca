import os
import time

import pytest
import torch

from dlviz.data.dataset import Dataset

# one intra-op thread, like the app on this 2-core machine: faster and less noisy
torch.set_num_threads(1)
# ...and kept at one: app.py (run in-process by AppTest) calls set_cpu_threads(), which
# would otherwise give every later test cores - 1 threads (another float32 reduction
# order, another trained model) on a machine with more cores
os.environ.setdefault("DLVIZ_THREADS", "1")


@pytest.fixture(autouse=True, scope="session")
def _cache_dir(tmp_path_factory):
    # generated datasets are cached on disk; keep the suite's cache private
    os.environ.setdefault("DLVIZ_CACHE_DIR", str(tmp_path_factory.mktemp("dlviz-cache")))


def ring_dataset(n_train=200, n_test=100, seed=0) -> Dataset:
    """A disc inside a ring, made here so trainer tests do not depend on data modules."""
    g = torch.Generator().manual_seed(seed)

    def make(n):
        r = torch.cat([torch.rand(n // 2, generator=g) * 2, 3 + torch.rand(n - n // 2, generator=g) * 2])
        a = torch.rand(n, generator=g) * 6.2832
        x = torch.stack([r * a.cos(), r * a.sin()], 1)
        y = torch.cat([torch.zeros(n // 2), torch.ones(n - n // 2)]).long()
        return x, y

    xtr, ytr = make(n_train)
    xte, yte = make(n_test)
    return Dataset("ring", "classification", (2,), ("in", "out"), xtr, ytr, xte, yte)


@pytest.fixture
def ring():
    return ring_dataset()


def wait_for(pred, timeout=20.0, every=0.002) -> bool:
    """Poll ``pred`` until it holds or ``timeout`` seconds pass (never a timing assertion)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(every)
    return False
