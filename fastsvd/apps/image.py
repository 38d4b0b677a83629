"""Image compression by truncated SVD: the lecture experiment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._checks import check_choice, check_int
from ..algorithms import svd


@dataclass(frozen=True, eq=False)
class RankResult:
    """One rank of a compressed image."""

    rank: int
    image: np.ndarray  # reconstruction, float in [0, 255], same shape as the original
    compression_ratio: float  # stored numbers of the original / of the factors
    relative_error: float  # ||X - X_r||_F / ||X||_F (before clipping to [0, 255])
    psnr: float  # peak signal-to-noise ratio in dB (after clipping), peak 255


@dataclass(frozen=True, eq=False)
class ImageCompression:
    """Compression of one image at several ranks.

    ``singular_values`` has one row per channel (one for grey images).
    ``files`` lists what :func:`compress_image` wrote, if anything.
    """

    original: np.ndarray
    singular_values: np.ndarray
    results: list
    files: list = field(default_factory=list)

    def table(self) -> str:
        lines = ["rank  compression  rel. error   PSNR (dB)"]
        lines += [f"{r.rank:4d}  {r.compression_ratio:10.1f}x  {r.relative_error:10.4f}  "
                  f"{r.psnr:9.2f}" for r in self.results]
        return "\n".join(lines)


def compress_image(image_or_path, ranks, *, mode="grey", output_dir=None, plots=True):
    """Compress an image by keeping ``r`` singular triplets, for each ``r`` in ``ranks``.

    Parameters
    ----------
    image_or_path : str, Path or array-like
        A PNG/JPEG file (read with Pillow) or an array of shape ``(h, w)`` or
        ``(h, w, channels)`` with values in [0, 255].
    ranks : int or sequence of int
        Ranks to keep, each ``1 <= r <= min(h, w)``.
    mode : {"grey", "channels"}
        ``"grey"`` converts colour to grey (ITU-R 601 luma) and compresses one
        matrix; ``"channels"`` compresses every colour channel separately.
    output_dir : path, optional
        Write ``rank-<r>.png`` for each rank, and with ``plots`` the singular
        values (log scale, ``singular-values.png``) and a grid of the
        reconstructions (``reconstructions.png``).

    Returns
    -------
    ImageCompression
        Per rank: the reconstruction, compression ratio
        ``h w c / (r (h + w + 1) c)``, relative Frobenius error and PSNR.

    Examples
    --------
    >>> import numpy as np
    >>> y, x = np.mgrid[0:64, 0:80]
    >>> image = 128 + 100 * np.sin(x / 7) * np.cos(y / 5)   # rank 2
    >>> out = compress_image(image, [1, 2])
    >>> [round(r.relative_error, 6) for r in out.results]
    [0.368177, 0.0]
    >>> round(out.results[1].compression_ratio, 1)
    17.7
    """
    X = _as_image(image_or_path, check_choice(mode, ("grey", "channels"), name="mode"))
    channels = X[..., None] if X.ndim == 2 else X
    h, w, c = channels.shape
    ranks = _check_ranks(ranks, min(h, w))
    factors = [svd(channels[..., i], min(h, w), method="lapack") for i in range(c)]
    results = []
    for r in ranks:
        approx = np.stack([(U[:, :r] * s[:r]) @ Vt[:r] for U, s, Vt in factors], axis=-1)
        error = np.linalg.norm(channels - approx) / np.linalg.norm(channels)
        clipped = np.clip(approx, 0, 255).reshape(X.shape)
        mse = np.mean((clipped - X) ** 2)
        psnr = float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)
        results.append(RankResult(r, clipped, h * w / (r * (h + w + 1)), float(error), psnr))
    out = ImageCompression(X, np.array([f[1] for f in factors]), results)
    if output_dir is not None:
        out.files.extend(_write(out, Path(output_dir), plots))
    return out


def _as_image(image_or_path, mode):
    if isinstance(image_or_path, (str, os.PathLike)):
        X = _read(Path(image_or_path), mode)
    else:
        X = np.asarray(image_or_path, dtype=np.float64)
        if X.ndim == 3 and mode == "grey":
            X = _luma(X)
    if X.ndim not in (2, 3) or min(X.shape[:2]) < 1:
        raise ValueError(f"image must have shape (h, w) or (h, w, channels), got {X.shape}.")
    if not np.all(np.isfinite(X)):
        raise ValueError("image contains NaN or infinity.")
    return X


def _read(path, mode):
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError as exc:  # pragma: no cover - Pillow is in the apps extra
        raise ImportError("reading image files needs Pillow: pip install 'fastsvd[apps]'") \
            from exc
    if not path.is_file():
        raise ValueError(f"image file {str(path)!r} does not exist.")
    try:
        with Image.open(path) as image:
            image = image.convert("L" if mode == "grey" else "RGB")
            return np.asarray(image, dtype=np.float64)
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"{str(path)!r} is not a readable image file (PNG, JPEG, ...): "
                         f"{exc}") from None


def _luma(rgb):
    weights = np.array([0.299, 0.587, 0.114])
    return rgb[..., :3] @ weights if rgb.shape[-1] >= 3 else rgb[..., 0]


def _check_ranks(ranks, limit):
    ranks = [ranks] if np.isscalar(ranks) else list(ranks)
    if not ranks:
        raise ValueError("ranks is empty; pass at least one rank, e.g. ranks=[50, 100].")
    return sorted(check_int(r, name="rank", low=1, high=limit,
                            hint="An image allows ranks up to its smaller side.")
                  for r in ranks)


def _write(result, directory, plots):
    from PIL import Image

    directory.mkdir(parents=True, exist_ok=True)
    files = []
    for r in result.results:
        path = directory / f"rank-{r.rank}.png"
        Image.fromarray(np.round(r.image).astype(np.uint8)).save(path)
        files.append(path)
    if plots:
        files += _plot(result, directory)
    return files


def _plot(result, directory):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for i, s in enumerate(result.singular_values):
        ax.semilogy(np.arange(1, s.size + 1), s, label=f"channel {i}" if
                    len(result.singular_values) > 1 else None)
    ax.set(xlabel="index i", ylabel="singular value s_i", title="Singular values (log scale)")
    if len(result.singular_values) > 1:
        ax.legend()
    spectrum = directory / "singular-values.png"
    fig.tight_layout()
    fig.savefig(spectrum, dpi=100)
    plt.close(fig)

    panels = [("original", result.original)] + [
        (f"rank {r.rank}: {r.compression_ratio:.1f}x, {r.psnr:.1f} dB", r.image)
        for r in result.results]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.6))
    for ax, (title, image) in zip(np.atleast_1d(axes), panels, strict=True):
        ax.imshow(np.clip(image, 0, 255).astype(np.uint8), cmap="gray" if image.ndim == 2
                  else None, vmin=0, vmax=255)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    grid = directory / "reconstructions.png"
    fig.tight_layout()
    fig.savefig(grid, dpi=100)
    plt.close(fig)
    return [spectrum, grid]
