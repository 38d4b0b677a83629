import os
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

# Per-dtype tolerances for results compared with float64 references.
RTOL = {np.float32: 2e-4, np.float64: 1e-9}


def random_csr(m, n, density, *, seed, dtype=np.float64, index_dtype=np.int32,
               empty_rows=True):
    """A random CSR with some empty rows and values of both signs."""
    rng = np.random.default_rng(seed)
    A = sp.random(m, n, density=density, format="csr", random_state=rng,
                  data_rvs=lambda size: rng.standard_normal(size)).astype(dtype)
    if empty_rows and m > 3:
        A = sp.csr_matrix(A.multiply(np.arange(m)[:, None] % 3 != 1))
    A.indices = A.indices.astype(index_dtype)
    A.indptr = A.indptr.astype(index_dtype)
    return A


def data_dir():
    """The shared real-data folder: $FASTSVD_DATA, else ../shared/data if present."""
    env = os.environ.get("FASTSVD_DATA")
    if env:
        return Path(env)
    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    return default if default.exists() else None


@pytest.fixture
def shared_data():
    path = data_dir()
    if path is None or not path.exists():
        pytest.skip("real data folder not found (set FASTSVD_DATA or place ../shared/data)")
    return path
