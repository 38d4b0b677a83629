"""Argument checkers shared by every public function.

Each returns the value in canonical form or raises with a message that names
the argument, says what was wrong and how to fix it. The convention is the
one numpy and scikit-learn follow: a value of the wrong *type* (a float where
an integer is needed, a string where a number is) is a ``TypeError``; a value
of the right type outside its allowed range is a ``ValueError``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np


def check_int(value, *, name: str, low: int | None = None, high: int | None = None,
              hint: str = "") -> int:
    """An integer (not a bool) with ``low <= value <= high`` (either bound optional)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} of type "
                        f"{type(value).__name__}.")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        if high is None:
            allowed = f"it must be >= {low}"
        elif low is None:
            allowed = f"it must be <= {high}"
        else:
            allowed = f"choose {low} <= {name} <= {high}"
        raise ValueError(f"{name}={value} is out of range; {allowed}."
                         + (f" {hint}" if hint else ""))
    return value


def check_real(value, *, name: str, low: float | None = None, high: float | None = None,
               low_open: bool = False, high_open: bool = False, hint: str = "") -> float:
    """A finite real number (not a bool) within the given bounds."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r} of type "
                        f"{type(value).__name__}.")
    given, value = value, float(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if not math.isfinite(value) or too_low or too_high:
        bounds = []
        if low is not None:
            bounds.append(f"{'>' if low_open else '>='} {low:g}")
        if high is not None:
            bounds.append(f"{'<' if high_open else '<='} {high:g}")
        allowed = " and ".join(bounds) if bounds else "finite"
        raise ValueError(f"{name}={given!r} is out of range; it must be {allowed}."
                         + (f" {hint}" if hint else ""))
    return value


def check_fraction(value, *, name: str) -> float:
    """A number in the open interval (0, 1)."""
    return check_real(value, name=name, low=0.0, high=1.0, low_open=True, high_open=True,
                      hint="e.g. 0.1.")


def check_choice(value, choices, *, name: str):
    """One of ``choices``."""
    if not any(value is c or (isinstance(value, str) and value == c) for c in choices):
        raise ValueError(f"{name}={value!r} is not supported; choose one of "
                         f"{', '.join(map(repr, choices))}.")
    return value


def check_bool(value, *, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}.")
    return bool(value)


def check_rank(k, shape, *, name: str = "k") -> int:
    """``k`` singular triplets of a matrix of ``shape``: ``1 <= k <= min(shape)``."""
    limit = min(shape)
    return check_int(k, name=name, low=1, high=limit,
                     hint=f"A matrix of shape {tuple(shape)} has at most min(m, n) = {limit} "
                     "singular values.")


def default_tol(dtype) -> float:
    """Default target relative accuracy: 1e-4 for float32 data, 1e-6 for float64."""
    return 1e-4 if np.dtype(dtype) == np.float32 else 1e-6


def check_tol(tol, dtype, *, name: str = "tol") -> float:
    """A relative accuracy in (0, 1); ``None`` gives the dtype's default."""
    if tol is None:
        return default_tol(dtype)
    return check_real(tol, name=name, low=0.0, high=1.0, low_open=True, high_open=True,
                      hint="It is a relative accuracy, e.g. 1e-6.")


def check_random_state(random_state) -> np.random.Generator:
    """A numpy Generator from ``None``, an int seed, a Generator or a RandomState."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, (bool, np.bool_)) or not isinstance(random_state,
                                                                     numbers.Integral):
        raise TypeError(f"random_state must be None, an int, or a numpy Generator or "
                        f"RandomState; got {type(random_state).__name__}.")
    return np.random.default_rng(check_int(random_state, name="random_state", low=0))


def working_dtype(dtype, *, name: str = "A") -> np.dtype:
    """float32 stays float32; every other real numeric dtype computes in float64."""
    dtype = np.dtype(dtype)
    if dtype == np.float32:
        return dtype
    if dtype.kind in "biuf":
        return np.dtype(np.float64)
    if dtype.kind == "c":
        raise TypeError(f"{name} is complex; fastsvd computes real SVDs only: pass the real "
                        "matrix.")
    raise TypeError(f"{name} must hold real numbers, got dtype {dtype}; convert it, e.g. "
                    f"{name}.astype(np.float64).")
