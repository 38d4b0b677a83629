"""PCA examples on images (fastsvd.apps.pca_gallery): planted patterns checked against
numpy's SVD, eigenfaces of lfw_subset against scikit-learn, digits, and bad input."""

import numpy as np
import pytest

from fastsvd.apps import PCAGallery, pca_gallery

pytest.importorskip("sklearn")  # fastsvd.PCA is a scikit-learn estimator

H, W = 8, 6


@pytest.fixture
def planted():
    """60 images of 8x6: three fixed patterns with random weights, plus small noise."""
    rng = np.random.default_rng(0)
    patterns = rng.standard_normal((3, H, W))
    weights = rng.standard_normal((60, 3)) * np.array([5.0, 3.0, 2.0])
    images = np.einsum("ij,jhw->ihw", weights, patterns) + 0.05 * rng.standard_normal((60, H, W))
    return images + 10.0  # an offset, so centring matters


def numpy_pca(images):
    """Reference: the SVD of the centred, flattened images."""
    X = images.reshape(images.shape[0], -1)
    centred = X - X.mean(axis=0)
    U, s, Vt = np.linalg.svd(centred, full_matrices=False)
    return centred, U, s, Vt


# ---- planted patterns against numpy ---------------------------------------------------

def test_three_planted_patterns_explain_almost_everything(planted):
    gallery = pca_gallery(planted, 3)
    assert isinstance(gallery, PCAGallery)
    assert gallery.cumulative[-1] > 0.95
    assert gallery.components.shape == (3, H, W)
    assert gallery.mean_image.shape == (H, W)
    np.testing.assert_allclose(gallery.mean_image, planted.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(gallery.cumulative, np.cumsum(gallery.explained_variance_ratio))
    assert gallery.files == []


@pytest.mark.parametrize("k", [1, 3, 10])
def test_matches_numpy_svd(planted, k):
    centred, U, s, Vt = numpy_pca(planted)
    gallery = pca_gallery(planted, k)
    ratio = s ** 2 / np.sum(s ** 2)
    np.testing.assert_allclose(gallery.explained_variance_ratio, ratio[:k], rtol=1e-6)
    np.testing.assert_allclose(gallery.pca.singular_values_, s[:k], rtol=1e-6)
    # The eigen-images are numpy's right singular vectors, up to sign.
    overlap = np.abs(np.sum(gallery.components.reshape(k, -1) * Vt[:k], axis=1))
    np.testing.assert_allclose(overlap, 1.0, rtol=1e-6)

    # reconstruction_error = ||X - X_k||_F / ||X - mean||_F, X_k the rank-k PCA reconstruction.
    # Eckart-Young: the optimum is sqrt(sum of the discarded s_i^2), which numpy's truncated
    # SVD attains, and it is the square root of the unexplained variance fraction.
    optimal = np.sqrt(np.sum(s[k:] ** 2)) / np.linalg.norm(centred)
    truncated = (U[:, :k] * s[:k]) @ Vt[:k]
    direct = np.linalg.norm(centred - truncated) / np.linalg.norm(centred)
    assert direct == pytest.approx(optimal, rel=1e-9)
    assert gallery.reconstruction_error == pytest.approx(optimal, rel=1e-6)
    assert gallery.reconstruction_error ** 2 == pytest.approx(1 - gallery.cumulative[-1],
                                                              rel=1e-6, abs=1e-12)


def test_flattened_images_with_image_shape(planted):
    flat = planted.reshape(60, H * W)
    a = pca_gallery(planted, 3)
    b = pca_gallery(flat, 3, image_shape=(H, W))
    c = pca_gallery(planted, 3, image_shape=[H, W])
    np.testing.assert_allclose(b.components, a.components)
    np.testing.assert_allclose(c.explained_variance_ratio, a.explained_variance_ratio)
    assert b.reconstruction_error == pytest.approx(a.reconstruction_error)


def test_largest_k_and_integer_input():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(5, 3, 2))  # k may reach min(5, 6) = 5
    gallery = pca_gallery(images, 5)
    assert gallery.cumulative[-1] == pytest.approx(1.0)
    assert gallery.reconstruction_error < 1e-6
    assert gallery.components.dtype == np.float64


def test_input_is_not_modified(planted):
    for images in (planted, planted.astype(np.float32), planted.reshape(60, -1)):
        before = images.copy()
        shape = None if images.ndim == 3 else (H, W)
        gallery = pca_gallery(images, 3, image_shape=shape)
        np.testing.assert_array_equal(images, before)
        assert not np.shares_memory(gallery.mean_image, images)
    frozen = planted.copy()
    frozen.setflags(write=False)
    pca_gallery(frozen, 2)  # read-only input is fine


@pytest.mark.parametrize("k", [0, -1, 49, 100])
def test_k_out_of_range(planted, k):
    # n_samples = 60, n_features = 48: k must be in 1..48.
    with pytest.raises(ValueError, match=rf"k={k} is out of range; choose 1 <= k <= 48"):
        pca_gallery(planted, k)


@pytest.mark.parametrize("k", [2.0, 2.5, True, "3", None])
def test_k_not_an_integer(planted, k):
    with pytest.raises(TypeError, match="k must be an integer"):
        pca_gallery(planted, k)


@pytest.mark.parametrize(("images", "image_shape", "match"), [
    (np.zeros(48), None, r"images must have shape .* 1 dimension"),
    (np.zeros((2, 3, 4, 5)), None, r"images must have shape .* 4 dimension"),
    (np.array([["a", "b"], ["c", "d"]]), (1, 2), "images must be a real numeric array"),
    (np.ones((4, 6), dtype=complex), (2, 3), "images must be a real numeric array"),
    (np.array([[1, 2], [3]], dtype=object), (1, 2), "images must be a real numeric array"),
    (np.arange(24.0).reshape(4, 6), None, r"image_shape \(h, w\) is required"),
    (np.arange(24.0).reshape(4, 6), (4, 2), r"image_shape=\(4, 2\) has 8 pixels"),
    (np.arange(24.0).reshape(4, 6), (2, 3, 1), "image_shape must be a pair"),
    (np.arange(24.0).reshape(4, 6), (0, 6), r"image_shape\[0\] \(height\)=0 is out of range"),
    (np.arange(24.0).reshape(4, 2, 3), (3, 2), r"image_shape=\(3, 2\) does not match"),
    (np.ones((1, 2, 3)), None, "images must hold at least 2 images"),
    (np.ones((4, 2, 3)), None, "images are all identical"),
    (np.full((4, 2, 3), np.nan), None, "images contain NaN"),
])
def test_bad_images(images, image_shape, match):
    with pytest.raises(ValueError, match=match):
        pca_gallery(images, 1, image_shape=image_shape)


# ---- figures --------------------------------------------------------------------------

def test_figures(planted, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "new" / "gallery"
    gallery = pca_gallery(planted, 20, output_dir=out)
    names = ["explained-variance.png", "components.png", "reconstructions.png"]
    assert gallery.files == [out / name for name in names]
    for path in gallery.files:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_matplotlib_is_a_clear_error(planted, tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install 'fastsvd\[apps\]'"):
        pca_gallery(planted, 3, output_dir=tmp_path)
    assert not any(tmp_path.iterdir())


# ---- real data ------------------------------------------------------------------------

@pytest.fixture
def lfw(shared_data):
    path = shared_data / "bundled-image-matrices" / "lfw_subset.npy"
    if not path.is_file():
        pytest.skip(f"{path} not found (set FASTSVD_DATA to the real-data folder)")
    return np.load(path)


def test_eigenfaces_of_lfw_subset_match_sklearn(lfw, tmp_path):
    from sklearn.decomposition import PCA

    assert lfw.shape == (200, 25, 25)
    before = lfw.copy()
    try:
        import matplotlib  # noqa: F401
        output_dir = tmp_path
    except ImportError:
        output_dir = None
    gallery = pca_gallery(lfw, 20, output_dir=output_dir)
    np.testing.assert_array_equal(lfw, before)

    reference = PCA(n_components=20, svd_solver="full").fit(lfw.reshape(200, -1))
    np.testing.assert_allclose(gallery.explained_variance_ratio,
                               reference.explained_variance_ratio_, rtol=1e-4)
    assert gallery.components.shape == (20, 25, 25)
    # 20 of 625 dimensions keep most of the variance (91.8% measured).
    assert 0.85 < gallery.cumulative[-1] < 0.97
    assert gallery.reconstruction_error == pytest.approx(np.sqrt(1 - gallery.cumulative[-1]),
                                                         rel=1e-6)
    if output_dir is not None:
        assert [p.name for p in gallery.files] == ["explained-variance.png", "components.png",
                                                   "reconstructions.png"]
        assert all(p.stat().st_size > 0 for p in gallery.files)


def test_digits_components_for_90_percent():
    from sklearn.datasets import load_digits

    images = load_digits().images  # (1797, 8, 8), values 0..16
    _, _, s, _ = numpy_pca(images)
    expected = int(np.searchsorted(np.cumsum(s ** 2) / np.sum(s ** 2), 0.9)) + 1

    gallery = pca_gallery(images, 40)
    needed = int(np.searchsorted(gallery.cumulative, 0.9)) + 1
    assert needed == expected
    assert 10 <= needed <= 30
    assert gallery.cumulative[needed - 1] >= 0.9 > gallery.cumulative[needed - 2]
