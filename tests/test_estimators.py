"""fastsvd.PCA and fastsvd.TruncatedSVD against scikit-learn, and its estimator checks."""

import numpy as np
import pytest
import scipy.sparse as sp

sklearn = pytest.importorskip("sklearn")
from sklearn import decomposition  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from fastsvd import PCA, TruncatedSVD  # noqa: E402


@parametrize_with_checks([PCA(n_components=2, random_state=0), PCA(random_state=0),
                          TruncatedSVD(n_components=2, random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def _data(sparse=False, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((200, 30)) * (0.8 ** np.arange(30)) + np.arange(30)
    if sparse:
        X[rng.random(X.shape) < 0.6] = 0
        return sp.csr_matrix(X)
    return X


@pytest.mark.parametrize("solver", ["auto", "krylov", "randomized", "lapack"])
def test_pca_matches_sklearn(solver):
    X = _data()
    ours = PCA(n_components=5, svd_solver=solver, tol=1e-10, random_state=0).fit(X)
    ref = decomposition.PCA(n_components=5, svd_solver="full").fit(X)
    for attr in ("explained_variance_", "explained_variance_ratio_", "singular_values_",
                 "mean_"):
        np.testing.assert_allclose(getattr(ours, attr), getattr(ref, attr), rtol=1e-8)
    np.testing.assert_allclose(ours.components_, ref.components_, atol=1e-8)
    np.testing.assert_allclose(ours.transform(X), ref.transform(X), atol=1e-7)
    np.testing.assert_allclose(ours.noise_variance_, ref.noise_variance_, rtol=1e-8)


def test_pca_on_sparse_input_matches_dense_pca():
    X = _data(sparse=True)
    ours = PCA(n_components=4, tol=1e-10, random_state=0).fit(X)
    ref = decomposition.PCA(n_components=4, svd_solver="full").fit(X.toarray())
    np.testing.assert_allclose(ours.explained_variance_ratio_, ref.explained_variance_ratio_,
                               rtol=1e-8)
    np.testing.assert_allclose(ours.components_, ref.components_, atol=1e-8)
    np.testing.assert_allclose(ours.transform(X), ref.transform(X.toarray()), atol=1e-7)


def test_pca_fractional_components_whiten_and_inverse():
    X = _data()
    ours = PCA(n_components=0.9, whiten=True).fit(X)
    ref = decomposition.PCA(n_components=0.9, whiten=True, svd_solver="full").fit(X)
    assert ours.n_components_ == ref.n_components_
    Z = ours.transform(X)
    np.testing.assert_allclose(Z.std(axis=0, ddof=1), 1, rtol=1e-8)
    np.testing.assert_allclose(ours.inverse_transform(Z), ref.inverse_transform(
        ref.transform(X)), atol=1e-7)
    with pytest.raises(ValueError, match="full spectrum"):
        PCA(n_components=0.5).fit(_data(sparse=True))


@pytest.mark.parametrize("sparse", [False, True])
def test_truncated_svd_matches_sklearn(sparse):
    X = _data(sparse=sparse)
    ours = TruncatedSVD(n_components=4, tol=1e-10, random_state=0)
    Z = ours.fit_transform(X)
    ref = decomposition.TruncatedSVD(n_components=4, algorithm="arpack", tol=0,
                                     random_state=0)
    Z_ref = ref.fit_transform(X)
    np.testing.assert_allclose(ours.singular_values_, ref.singular_values_, rtol=1e-8)
    np.testing.assert_allclose(ours.explained_variance_ratio_, ref.explained_variance_ratio_,
                               rtol=1e-6)
    np.testing.assert_allclose(np.abs(Z), np.abs(Z_ref), atol=1e-6)
    np.testing.assert_allclose(ours.transform(X), Z, atol=1e-8)
    np.testing.assert_allclose(ours.inverse_transform(Z), Z @ ours.components_)


def test_float32_is_preserved():
    X = _data().astype(np.float32)
    for est in (PCA(n_components=3, random_state=0), TruncatedSVD(3, random_state=0)):
        assert est.fit_transform(X).dtype == np.float32
        assert est.components_.dtype == np.float32


def test_params_roundtrip_and_bad_n_components():
    est = PCA(n_components=3, svd_solver="krylov")
    assert est.get_params()["svd_solver"] == "krylov"
    est.set_params(n_components=2)
    assert est.n_components == 2
    with pytest.raises(ValueError, match="n_components=40 must be between 1 and"):
        PCA(n_components=40).fit(_data())
    with pytest.raises(ValueError, match="svd_solver='arpack' is not supported"):
        PCA(n_components=2, svd_solver="arpack").fit(_data())
