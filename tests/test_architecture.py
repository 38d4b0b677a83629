"""The package's structure: imports run one way, modules stay small, the
declared protocols are what the code accepts, and shared objects are safe to
use from two threads."""

import ast
import threading
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import fastsvd
from fastsvd import protocols
from fastsvd._threads import active_threads, max_threads, thread_limits

PACKAGE = Path(fastsvd.__file__).parent
MAX_MODULE_LINES = 600


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(name: str, path: Path, modules) -> set[str]:
    """The fastsvd modules ``name`` imports anywhere in its body (function-level
    imports included), and the lazy attribute modules of the package root."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("fastsvd"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("fastsvd"):
                continue
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                found.add(submodule if submodule in modules else target)
    if name == "fastsvd":
        found.update(f"fastsvd.{m}" for m in {*fastsvd._LAZY.values(), *fastsvd._SUBMODULES})
    found.discard(name)
    return {m for m in found if m in modules}


def test_imports_form_no_cycle():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycle = [*stack[stack.index(target):], target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_the_graph_sees_imports_inside_functions():
    """The cycle test can fail: it finds the facade's function-level import of
    the kernels and the package root's lazy submodules."""
    modules = _modules()
    csr = _imports("fastsvd.operators.csr", modules["fastsvd.operators.csr"], modules)
    assert "fastsvd.kernels.products" in csr
    root = _imports("fastsvd", modules["fastsvd"], modules)
    assert {"fastsvd.impute", "fastsvd.distributed"} <= root


def test_no_module_is_long():
    long = {name: n for name, path in _modules().items()
            if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


# ------------------------------------------------------------------ protocols
class _Diagonal:
    """A duck-typed operator: nothing but the protocol's four attributes."""

    def __init__(self, d):
        self.d = np.asarray(d, dtype=np.float64)
        self.shape = (self.d.size, self.d.size)
        self.dtype = self.d.dtype

    def matmat(self, X):
        return self.d[:, None] * X

    def rmatmat(self, Y):
        return self.d[:, None] * Y


@pytest.mark.parametrize("method", ["krylov", "randomized", "power"])
def test_duck_typed_operator_works_in_svd(method):
    d = np.linspace(1.0, 10.0, 40)
    assert isinstance(_Diagonal(d), protocols.LinearOperator)
    result = fastsvd.svd(_Diagonal(d), 3, method=method, tol=1e-10, random_state=0)
    np.testing.assert_allclose(result.s, d[::-1][:3], rtol=1e-8)


def test_duck_typed_operator_with_wrong_products_gets_a_clear_error():
    class Broken(_Diagonal):
        def matmat(self, X):
            return X[:-1]

    with pytest.raises(ValueError, match=r"Broken.matmat returned an array of shape"):
        fastsvd.svd(Broken(np.ones(10)), 2, method="krylov", random_state=0)


def test_object_without_products_is_treated_as_an_array():
    with pytest.raises(TypeError, match=r"could not be converted|non-numeric"):
        fastsvd.svd(object(), 1)


def test_implementations_follow_the_declared_protocols():
    from fastsvd.impute.observed import ObservedCSR

    A = sp.random(30, 20, 0.3, format="csr", random_state=0)
    observed = ObservedCSR.from_scipy(A)
    assert isinstance(observed, protocols.ObservedEntries)
    assert isinstance(observed, protocols.LinearOperator)
    assert isinstance(fastsvd.as_operator(A), protocols.LinearOperator)
    for name in ("matmat", "rmatmat", "residual_times", "residual_rtimes", "factor_gram",
                 "row_counts", "column_counts", "value_range", "offset_row_sums",
                 "offset_column_sums", "minus_offsets", "holdout"):
        assert callable(getattr(observed, name))


def test_distributed_backend_follows_the_protocols():
    pytest.importorskip("distributed")
    from fastsvd.distributed import DistributedObserved, TallBlocks

    for name in ("residual_times", "residual_rtimes", "factor_gram", "row_counts",
                 "column_counts", "value_range", "offset_row_sums", "offset_column_sums",
                 "minus_offsets", "holdout", "matmat", "rmatmat"):
        assert callable(getattr(DistributedObserved, name)), name
    for name in ("gram", "inner", "qr", "hstack", "to_numpy", "astype", "__matmul__"):
        assert callable(getattr(TallBlocks, name)), name


# ------------------------------------------------------------------ threads
def test_two_threads_on_one_shared_operator_give_the_single_thread_results():
    """Each thread keeps its own scratch: two concurrent SVDs of one CSR
    operator (tiled and generic widths) give the bits of one run alone."""
    A = sp.random(3000, 400, 0.02, format="csr", random_state=1, dtype=np.float32)
    op = fastsvd.as_operator(A)
    jobs = [(40, 0), (10, 1), (40, 2), (10, 3)]
    alone = {job: fastsvd.svd(op, job[0], method="krylov", random_state=job[1])
             for job in jobs}
    together, errors = {}, []

    def run(job):
        try:
            for _ in range(3):
                together.setdefault(job, []).append(
                    fastsvd.svd(op, job[0], method="krylov", random_state=job[1]))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for job, results in together.items():
        for result in results:
            np.testing.assert_array_equal(result.s, alone[job].s)
            np.testing.assert_array_equal(result.U, alone[job].U)


def _blas_threads():
    from threadpoolctl import threadpool_info

    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]


def test_thread_limits_restore_numba_and_blas_threads_even_on_error():
    pytest.importorskip("threadpoolctl")
    numba_before, blas_before = active_threads(), _blas_threads()
    with pytest.raises(RuntimeError), thread_limits(1, blas=1):
        assert active_threads() == 1
        assert set(_blas_threads()) <= {1}
        raise RuntimeError
    assert active_threads() == numba_before and _blas_threads() == blas_before


def test_concurrent_blas_limits_restore_the_setting_once_all_leave(monkeypatch):
    """The limit is process-wide: two threads that hold it at once must leave
    it in force until the last one leaves, then restore what was there. (A
    fake BLAS setting stands in for threadpoolctl's: OpenBLAS ignores
    changes made from a thread other than the one that made the first.)"""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    setting = {"threads": 8}

    class FakeLimits:
        def __init__(self, limits, user_api):
            self.previous = setting["threads"]
            setting["threads"] = limits

        def restore_original_limits(self):
            setting["threads"] = self.previous

    monkeypatch.setattr(threadpoolctl, "threadpool_limits", FakeLimits)
    inside, first_left = threading.Barrier(2), threading.Event()
    seen = []

    def hold():
        with thread_limits(blas=1):
            inside.wait()
        first_left.set()

    first = threading.Thread(target=hold)
    first.start()
    with thread_limits(blas=1):
        inside.wait()
        first_left.wait()
        seen.append(setting["threads"])  # the other thread has left: still limited
        with thread_limits(blas=2):  # another limit on top, for this block only
            seen.append(setting["threads"])
        seen.append(setting["threads"])
    first.join()
    assert seen == [1, 2, 1]
    assert setting["threads"] == 8


@pytest.mark.skipif(max_threads() < 2, reason="needs 2 numba threads")
def test_benchmark_runner_restores_the_thread_settings():
    from fastsvd.benchmark import run_benchmark

    before = active_threads(), _blas_threads()
    run_benchmark("tiny", contenders=["fastsvd krylov"], repeats=1, n_threads=1,
                  log=lambda message: None)
    assert (active_threads(), _blas_threads()) == before
