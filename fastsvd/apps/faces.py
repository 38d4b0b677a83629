"""PCA of a set of images: eigenfaces, explained variance and reconstructions."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._checks import check_int, check_rank

_MAX_COMPONENT_PANELS = 15
_MAX_RECONSTRUCTIONS = 6


@dataclass(frozen=True, eq=False)
class PCAGallery:
    """PCA of a set of images, as returned by :func:`pca_gallery`.

    Attributes
    ----------
    pca : fastsvd.PCA
        The fitted estimator (on the images flattened to ``(n, h * w)``).
    mean_image : ndarray (h, w)
        The mean image, subtracted before the decomposition.
    components : ndarray (k, h, w)
        The principal components as images ("eigenfaces"), unit Frobenius norm,
        in decreasing order of explained variance.
    explained_variance_ratio : ndarray (k,)
        Fraction of the total variance of the images explained by each component.
    cumulative : ndarray (k,)
        ``np.cumsum(explained_variance_ratio)``.
    reconstruction_error : float
        Relative Frobenius error of the rank-k reconstruction
        ``X_k = inverse_transform(transform(X))``, measured against the centred
        images: ``||X - X_k||_F / ||X - mean||_F``. This is the part of the
        variation around the mean image that ``k`` components miss, so
        ``reconstruction_error ** 2 == 1 - cumulative[-1]`` up to rounding, and
        by Eckart-Young it equals ``sqrt(sum_{i > k} s_i ** 2) / ||X - mean||_F``
        where ``s`` are the singular values of the centred images.
    files : list of Path
        The figures written to ``output_dir``, if any.
    """

    pca: object
    mean_image: np.ndarray
    components: np.ndarray
    explained_variance_ratio: np.ndarray
    cumulative: np.ndarray
    reconstruction_error: float
    files: list = field(default_factory=list)


def pca_gallery(images, k, *, output_dir=None, image_shape=None, random_state=0):
    """Principal components of a set of images, with optional figures.

    Fits ``fastsvd.PCA(n_components=k, random_state=random_state)`` to the
    images flattened to rows. The caller's array is never modified. Needs
    scikit-learn (``pip install 'fastsvd[sklearn]'``) for :class:`fastsvd.PCA`,
    and matplotlib (``pip install 'fastsvd[apps]'``) when ``output_dir`` is
    given.

    Parameters
    ----------
    images : array-like, shape (n, h, w) or (n, h * w)
        Real-valued images, at least two and not all identical. Integer and
        boolean input is converted to float64; float32 input stays float32.
    k : int
        Number of components, ``1 <= k <= min(n, h * w)``.
    output_dir : str or Path, optional
        If given, create it if needed and write three PNG figures there:
        ``explained-variance.png`` (per-component ratio as bars, cumulative
        ratio as a line), ``components.png`` (the mean image and the first
        ``min(k, 15)`` components) and ``reconstructions.png`` (a few
        originals above their rank-k reconstructions).
    image_shape : tuple (h, w), optional
        Required when ``images`` is 2-D, ``(n, h * w)``; if ``images`` is 3-D it
        must be omitted or equal ``images.shape[1:]``.
    random_state : int, numpy Generator or None, default=0
        Passed to :class:`fastsvd.PCA`.

    Returns
    -------
    PCAGallery
        The fitted estimator, the mean image, the components as images, the
        explained variance ratios (per component and cumulative), the relative
        reconstruction error and the list of files written.

    Raises
    ------
    ValueError
        If ``images`` is not a real numeric 2-D or 3-D array of finite values
        with at least two distinct images, if ``image_shape`` does not fit, or
        if ``k`` is not an integer in ``[1, min(n, h * w)]``.
    ImportError
        If ``output_dir`` is given and matplotlib is not installed.

    Examples
    --------
    Sixty 8x6 images made of three patterns plus a little noise:

    >>> import numpy as np
    >>> from fastsvd.apps import pca_gallery
    >>> rng = np.random.default_rng(0)
    >>> patterns = rng.standard_normal((3, 8, 6))
    >>> weights = rng.standard_normal((60, 3)) * [3.0, 2.0, 1.0]
    >>> images = np.einsum("ij,jhw->ihw", weights, patterns)
    >>> images += 0.01 * rng.standard_normal(images.shape)
    >>> gallery = pca_gallery(images, 3)
    >>> gallery.components.shape
    (3, 8, 6)
    >>> bool(gallery.cumulative[-1] > 0.99)
    True
    >>> bool(gallery.reconstruction_error < 0.01)
    True
    """
    X, shape = _check_images(images, image_shape)
    n, p = X.shape
    k = check_rank(k, (n, p))
    if output_dir is not None:
        _require_matplotlib()  # before the work, not after it

    from ..decomposition import PCA

    pca = PCA(n_components=k, random_state=random_state).fit(X)
    approx = pca.inverse_transform(pca.transform(X))
    mean = pca.mean_
    error = float(np.linalg.norm(X - approx) / np.linalg.norm(X - mean))
    ratio = np.array(pca.explained_variance_ratio_, dtype=np.float64)
    gallery = PCAGallery(
        pca=pca,
        mean_image=np.array(mean).reshape(shape),
        components=np.array(pca.components_).reshape((k, *shape)),
        explained_variance_ratio=ratio,
        cumulative=np.cumsum(ratio),
        reconstruction_error=error,
    )
    if output_dir is not None:
        originals = X.reshape((n, *shape))
        gallery.files.extend(_plot(gallery, originals, approx.reshape((n, *shape)),
                                   Path(output_dir)))
    return gallery


def _check_images(images, image_shape):
    """The images as a fresh (n, h * w) float array, and (h, w)."""
    try:
        X = np.asarray(images)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"images must be a numeric array of shape (n, h, w) or (n, h*w): "
                         f"{exc}") from None
    if X.dtype.kind not in "biuf":
        raise ValueError(f"images must be a real numeric array, got dtype {X.dtype}.")
    if X.ndim not in (2, 3):
        raise ValueError(f"images must have shape (n, h, w), or (n, h*w) with image_shape; got "
                         f"an array with {X.ndim} dimension(s) of shape {X.shape}.")
    if X.ndim == 3:
        shape = X.shape[1:]
        if image_shape is not None and _check_shape(image_shape) != shape:
            raise ValueError(f"image_shape={tuple(image_shape)!r} does not match the images' "
                             f"shape {shape}; omit it for 3-D images.")
    else:
        if image_shape is None:
            raise ValueError(f"image_shape (h, w) is required for flattened images of shape "
                             f"{X.shape}; h * w must equal {X.shape[1]}.")
        shape = _check_shape(image_shape)
        if shape[0] * shape[1] != X.shape[1]:
            raise ValueError(f"image_shape={shape!r} has {shape[0] * shape[1]} pixels but the "
                             f"images have {X.shape[1]} columns; h * w must equal {X.shape[1]}.")
    n = X.shape[0]
    if n < 2 or shape[0] * shape[1] < 1:
        raise ValueError(f"images must hold at least 2 images of at least 1 pixel, got shape "
                         f"{X.shape}.")
    dtype = np.float32 if X.dtype == np.float32 else np.float64
    # A copy, so nothing downstream can write into the caller's array.
    X = np.array(X.reshape(n, -1), dtype=dtype, copy=True)
    if not np.all(np.isfinite(X)):
        raise ValueError("images contain NaN or infinity.")
    if np.all(X == X[0]):
        raise ValueError("images are all identical (zero variance); PCA needs at least two "
                         "different images.")
    return X, shape


def _check_shape(image_shape):
    try:
        h, w = image_shape
    except (TypeError, ValueError):
        raise ValueError(f"image_shape must be a pair of positive integers (h, w), got "
                         f"{image_shape!r}.") from None
    return (check_int(h, name="image_shape[0] (height)", low=1),
            check_int(w, name="image_shape[1] (width)", low=1))


def _require_matplotlib():
    try:
        import matplotlib.figure  # noqa: F401
    except ImportError as exc:
        raise ImportError("writing figures needs matplotlib: pip install 'fastsvd[apps]'") \
            from exc


def _save(fig, path):
    # The Agg canvas directly: no pyplot, so the caller's backend is left alone.
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=100)
    return path


def _plot(gallery, originals, approx, directory):
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    directory.mkdir(parents=True, exist_ok=True)
    k = gallery.explained_variance_ratio.size
    index = np.arange(1, k + 1)

    fig = Figure(figsize=(6.4, 4.0), layout="tight")
    ax = fig.add_subplot()
    ax.bar(index, gallery.explained_variance_ratio, label="per component")
    ax.plot(index, gallery.cumulative, "o-", color="C1", markersize=3, label="cumulative")
    ax.set(xlabel="component", ylabel="explained variance ratio", ylim=(0, 1.05),
           title=f"Explained variance: {gallery.cumulative[-1]:.1%} with {k} components")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="center right")
    files = [_save(fig, directory / "explained-variance.png")]

    shown = min(k, _MAX_COMPONENT_PANELS)
    panels = [("mean", gallery.mean_image, "gray", None)] + [
        (f"PC{i + 1} ({gallery.explained_variance_ratio[i]:.1%})", gallery.components[i],
         "RdBu_r", float(np.max(np.abs(gallery.components[i])))) for i in range(shown)]
    cols = min(len(panels), 8)
    rows = -(-len(panels) // cols)
    fig = _grid_figure(1.6 * cols, 1.8 * rows)
    for i, (title, image, cmap, limit) in enumerate(panels):
        ax = _image_axes(fig, rows, cols, i + 1)
        bounds = {} if limit is None else {"vmin": -limit, "vmax": limit}
        ax.imshow(image, cmap=cmap, **bounds)
        ax.set_title(title, fontsize=8)
    files.append(_save(fig, directory / "components.png"))

    n = originals.shape[0]
    picks = np.unique(np.linspace(0, n - 1, min(n, _MAX_RECONSTRUCTIONS)).astype(int))
    fig = _grid_figure(1.6 * picks.size, 3.6)
    for j, i in enumerate(picks):
        low, high = float(originals[i].min()), float(originals[i].max())
        for row, (image, label) in enumerate(((originals[i], "original"),
                                              (approx[i], f"rank {k}"))):
            ax = _image_axes(fig, 2, picks.size, row * picks.size + j + 1)
            ax.imshow(image, cmap="gray", vmin=low, vmax=high)
            ax.set_title(f"{label} #{i}", fontsize=8)
    files.append(_save(fig, directory / "reconstructions.png"))
    return files


def _grid_figure(width, height):
    # Fixed margins: tight_layout over dozens of image panels costs more than the PCA.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.9, wspace=0.1, hspace=0.3)
    return fig


def _image_axes(fig, rows, cols, index):
    ax = fig.add_subplot(rows, cols, index, xticks=[], yticks=[])
    ax.set_axis_off()
    return ax
