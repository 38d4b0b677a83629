"""LoRA-style low-rank factorisation of weight matrices (Hu et al. 2021)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import check_int, check_rank
from ..algorithms import svd


def lora_factorize(delta_w, r, *, method="auto", random_state=None):
    """Factor a weight update ``delta_w`` (d x k) as ``B @ A`` with ``B`` (d x r)
    and ``A`` (r x k), minimising ``||delta_w - B A||_F``.

    By Eckart-Young the optimum is the rank-``r`` truncated SVD
    ``U_r S_r V_r^T``; it is split evenly, ``B = U_r S_r^{1/2}`` and
    ``A = S_r^{1/2} V_r^T`` (both factors have the same scale, as LoRA's
    initialisation from a trained update would).

    Works on numpy arrays and anything ``numpy.asarray`` accepts (a torch
    tensor on the CPU, for example); no deep-learning framework is needed.

    Returns
    -------
    (B, A)

    Examples
    --------
    >>> import numpy as np
    >>> delta = np.outer([1.0, 2.0], [3.0, 0.0, 4.0])
    >>> B, A = lora_factorize(delta, 1)
    >>> np.allclose(B @ A, delta)
    True
    """
    W = np.asarray(delta_w)
    U, s, Vt = svd(W, check_rank(r, W.shape, name="r"), method=method,
                   random_state=random_state)
    root = np.sqrt(s)
    return U * root, root[:, None] * Vt


def lora_parameter_count(d_model, r, n_layers=1, *, d_out=None):
    """Trainable parameters of LoRA adapters against full fine-tuning.

    Each adapted ``d_out x d_model`` matrix (square by default) trains
    ``r (d_model + d_out)`` numbers instead of ``d_model d_out``; for
    ``n_layers`` square matrices that is ``2 n_layers d_model r`` against
    ``n_layers d_model^2``.

    Returns
    -------
    dict with ``lora``, ``full`` and ``fraction`` (= lora / full).

    Examples
    --------
    >>> lora_parameter_count(4096, 8, n_layers=32)["lora"]
    2097152
    """
    d_model = check_int(d_model, name="d_model", low=1)
    d_out = d_model if d_out is None else check_int(d_out, name="d_out", low=1)
    r = check_int(r, name="r", low=1)
    n_layers = check_int(n_layers, name="n_layers", low=1)
    lora = n_layers * r * (d_model + d_out)
    full = n_layers * d_model * d_out
    return {"lora": lora, "full": full, "fraction": lora / full}


@dataclass(frozen=True, eq=False)
class LayerFactorization:
    """A dense layer ``y = W x`` replaced by two thin layers ``y = B (A x)``."""

    B: np.ndarray  # d_out x r
    A: np.ndarray  # r x d_in
    weight_error: float  # ||W - B A||_F / ||W||_F
    flops_full: int  # multiply-adds per input vector, d_out d_in
    flops_factored: int  # r (d_in + d_out)
    output_error: float | None  # ||W X - B A X||_F / ||W X||_F on the given inputs

    @property
    def flops_saved(self) -> float:
        """Fraction of multiply-adds saved per input."""
        return 1 - self.flops_factored / self.flops_full


def factorize_layer(W, r, inputs=None, *, method="auto", random_state=None):
    """Compress a dense layer ``W`` (d_out x d_in) into ``B @ A`` of rank ``r``.

    ``inputs`` (d_in x n_samples, or n_samples x d_in when its second axis
    matches ``d_in``) measures the error on the layer's outputs.
    """
    W = np.asarray(W, dtype=np.float64 if np.asarray(W).dtype != np.float32 else np.float32)
    B, A = lora_factorize(W, r, method=method, random_state=random_state)
    d_out, d_in = W.shape
    output_error = None
    if inputs is not None:
        X = np.asarray(inputs, dtype=W.dtype)
        if X.ndim != 2 or d_in not in X.shape:
            raise ValueError(f"inputs must be 2-d with one axis of length d_in={d_in}, got "
                             f"shape {X.shape}.")
        X = X if X.shape[0] == d_in else X.T
        exact = W @ X
        output_error = float(np.linalg.norm(exact - B @ (A @ X)) / np.linalg.norm(exact))
    weight_error = float(np.linalg.norm(W - B @ A) / np.linalg.norm(W))
    return LayerFactorization(B, A, weight_error, d_out * d_in, r * (d_in + d_out),
                              output_error)
