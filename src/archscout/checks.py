"""Validation in one place: each helper returns the value it was given or raises an ArchscoutError.

One wording per kind of check, so that every option and constructor says the same thing the same way::

    positive_int(0, "--top")              # --top must be a positive integer, got 0
    fraction(1.5, "asha: reduction")      # asha: reduction must be a number in [0, 1], got 1.5

``what`` names the value as the user wrote it (an option, a setting, ``"strategy: option"``). A bool is
never an integer or a number here, and numbers must be finite (NaN and infinity are refused).
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any, Literal

from .errors import ArchscoutError

_BRACKETS = {"both": ("[", "]"), "left": ("[", ")"), "right": ("(", "]"), "neither": ("(", ")")}


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def positive_int(value: Any, what: str) -> Any:
    """``value`` if it is an integer >= 1."""
    if not (_is_int(value) and value >= 1):
        raise ArchscoutError(f"{what} must be a positive integer, got {value!r}")
    return value


def non_negative_int(value: Any, what: str) -> Any:
    """``value`` if it is an integer >= 0."""
    if not (_is_int(value) and value >= 0):
        raise ArchscoutError(f"{what} must be a non-negative integer, got {value!r}")
    return value


def int_at_least(value: Any, what: str, low: int) -> Any:
    """``value`` if it is an integer >= ``low``; a ``low`` of 1 or 0 words it as the two checks above."""
    if low == 1:
        return positive_int(value, what)
    if low == 0:
        return non_negative_int(value, what)
    if not (_is_int(value) and value >= low):
        raise ArchscoutError(f"{what} must be an integer >= {low}, got {value!r}")
    return value


def finite_number(value: Any, what: str) -> Any:
    """``value`` if it is a finite real number."""
    if not _is_number(value):
        raise ArchscoutError(f"{what} must be a finite number, got {value!r}")
    return value


def positive_number(value: Any, what: str) -> Any:
    """``value`` if it is a finite number > 0."""
    if not (_is_number(value) and value > 0):
        raise ArchscoutError(f"{what} must be a positive number, got {value!r}")
    return value


def non_negative_number(value: Any, what: str) -> Any:
    """``value`` if it is a finite number >= 0."""
    if not (_is_number(value) and value >= 0):
        raise ArchscoutError(f"{what} must be a non-negative number, got {value!r}")
    return value


def int_in_range(value: Any, what: str, low: int, high: int) -> Any:
    """``value`` if it is an integer from ``low`` to ``high``, both included."""
    if not (_is_int(value) and low <= value <= high):
        raise ArchscoutError(f"{what} must be an integer in [{low}, {high}], got {value!r}")
    return value


def number_in_range(value: Any, what: str, low: float, high: float, *,
                    inclusive: Literal["both", "left", "right", "neither"] = "both") -> Any:
    """``value`` if it is a number from ``low`` to ``high``; ``inclusive`` says which ends are allowed, as in
    ``pandas.Series.between``: ``"both"`` [low, high], ``"left"`` [low, high), ``"right"`` (low, high],
    ``"neither"`` (low, high)."""
    if inclusive not in _BRACKETS:
        raise ValueError(f"inclusive is one of {', '.join(_BRACKETS)}, got {inclusive!r}")
    ok = _is_number(value) and (low <= value if inclusive in ("both", "left") else low < value) \
        and (value <= high if inclusive in ("both", "right") else value < high)
    if not ok:
        left, right = _BRACKETS[inclusive]
        raise ArchscoutError(f"{what} must be a number in {left}{low:g}, {high:g}{right}, got {value!r}")
    return value


def fraction(value: Any, what: str, *, inclusive: Literal["both", "left", "right", "neither"] = "both") -> Any:
    """``value`` if it is a number from 0 to 1 (:func:`number_in_range` with 0 and 1)."""
    return number_in_range(value, what, 0, 1, inclusive=inclusive)


def one_of(value: Any, options: Iterable[Any], what: str) -> Any:
    """``value`` if it is one of ``options`` (listed in the message in their order)."""
    options = list(options)
    if any(isinstance(o, bool) == isinstance(value, bool) and o == value for o in options):
        return value
    raise ArchscoutError(f"{what} must be one of {', '.join(str(o) for o in options)}, got {value!r}")


def boolean(value: Any, what: str) -> bool:
    """``value`` if it is True or False (not 0, 1 or a string)."""
    if not isinstance(value, bool):
        raise ArchscoutError(f"{what} must be true or false, got {value!r}")
    return value


__all__ = ["positive_int", "non_negative_int", "int_at_least", "finite_number", "positive_number",
           "non_negative_number", "int_in_range", "number_in_range", "fraction", "one_of", "boolean"]
