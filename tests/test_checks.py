"""archscout.checks: every helper, its one wording for a bad value, and the good values it returns."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from archscout import checks
from archscout.errors import ArchscoutError

BAD, GOOD = "bad", "good"

# (helper, value, extra arguments, BAD with the exact message or GOOD: the value comes back unchanged)
TABLE = [
    (checks.positive_int, 0, (), BAD, "x must be a positive integer, got 0"),
    (checks.positive_int, -3, (), BAD, "x must be a positive integer, got -3"),
    (checks.positive_int, 1.0, (), BAD, "x must be a positive integer, got 1.0"),
    (checks.positive_int, True, (), BAD, "x must be a positive integer, got True"),
    (checks.positive_int, "2", (), BAD, "x must be a positive integer, got '2'"),
    (checks.positive_int, None, (), BAD, "x must be a positive integer, got None"),
    (checks.positive_int, 1, (), GOOD, None),
    (checks.positive_int, np.int64(7), (), GOOD, None),
    (checks.non_negative_int, -1, (), BAD, "x must be a non-negative integer, got -1"),
    (checks.non_negative_int, False, (), BAD, "x must be a non-negative integer, got False"),
    (checks.non_negative_int, 0.5, (), BAD, "x must be a non-negative integer, got 0.5"),
    (checks.non_negative_int, 0, (), GOOD, None),
    (checks.int_at_least, 1, (2,), BAD, "x must be an integer >= 2, got 1"),
    (checks.int_at_least, 2.5, (2,), BAD, "x must be an integer >= 2, got 2.5"),
    (checks.int_at_least, True, (2,), BAD, "x must be an integer >= 2, got True"),
    (checks.int_at_least, 0, (1,), BAD, "x must be a positive integer, got 0"),  # low 1 and 0: the same wording
    (checks.int_at_least, -1, (0,), BAD, "x must be a non-negative integer, got -1"),  # as the two above
    (checks.int_at_least, 2, (2,), GOOD, None),
    (checks.int_at_least, 0, (0,), GOOD, None),
    (checks.finite_number, math.inf, (), BAD, "x must be a finite number, got inf"),
    (checks.finite_number, math.nan, (), BAD, "x must be a finite number, got nan"),
    (checks.finite_number, True, (), BAD, "x must be a finite number, got True"),
    (checks.finite_number, "1", (), BAD, "x must be a finite number, got '1'"),
    (checks.finite_number, -2.5, (), GOOD, None),
    (checks.positive_number, 0, (), BAD, "x must be a positive number, got 0"),
    (checks.positive_number, -1.5, (), BAD, "x must be a positive number, got -1.5"),
    (checks.positive_number, math.nan, (), BAD, "x must be a positive number, got nan"),
    (checks.positive_number, math.inf, (), BAD, "x must be a positive number, got inf"),
    (checks.positive_number, True, (), BAD, "x must be a positive number, got True"),
    (checks.positive_number, 3, (), GOOD, None),
    (checks.positive_number, 1e-9, (), GOOD, None),
    (checks.positive_number, Fraction(1, 3), (), GOOD, None),
    (checks.non_negative_number, -0.1, (), BAD, "x must be a non-negative number, got -0.1"),
    (checks.non_negative_number, math.inf, (), BAD, "x must be a non-negative number, got inf"),
    (checks.non_negative_number, None, (), BAD, "x must be a non-negative number, got None"),
    (checks.non_negative_number, 0.0, (), GOOD, None),
    (checks.non_negative_number, np.float32(2.5), (), GOOD, None),
    (checks.int_in_range, 70000, (0, 65535), BAD, "x must be an integer in [0, 65535], got 70000"),
    (checks.int_in_range, 0, (1, 20), BAD, "x must be an integer in [1, 20], got 0"),
    (checks.int_in_range, 5.0, (1, 20), BAD, "x must be an integer in [1, 20], got 5.0"),
    (checks.int_in_range, True, (0, 1), BAD, "x must be an integer in [0, 1], got True"),
    (checks.int_in_range, 20, (1, 20), GOOD, None),
    (checks.int_in_range, 0, (0, 65535), GOOD, None),
    (checks.number_in_range, 100, {"low": 0, "high": 100, "inclusive": "neither"}, BAD,
     "x must be a number in (0, 100), got 100"),
    (checks.number_in_range, 0.5, (1, 2.5), BAD, "x must be a number in [1, 2.5], got 0.5"),
    (checks.number_in_range, math.inf, (0, 100), BAD, "x must be a number in [0, 100], got inf"),
    (checks.number_in_range, 15, {"low": 0, "high": 100, "inclusive": "neither"}, GOOD, None),
    (checks.fraction, 1.5, (), BAD, "x must be a number in [0, 1], got 1.5"),
    (checks.fraction, -0.5, (), BAD, "x must be a number in [0, 1], got -0.5"),
    (checks.fraction, math.nan, (), BAD, "x must be a number in [0, 1], got nan"),
    (checks.fraction, True, (), BAD, "x must be a number in [0, 1], got True"),
    (checks.fraction, 0, (), GOOD, None),
    (checks.fraction, 1, (), GOOD, None),
    (checks.fraction, 1.0, {"inclusive": "left"}, BAD, "x must be a number in [0, 1), got 1.0"),
    (checks.fraction, 0.0, {"inclusive": "left"}, GOOD, None),
    (checks.fraction, 0.0, {"inclusive": "right"}, BAD, "x must be a number in (0, 1], got 0.0"),
    (checks.fraction, 1.0, {"inclusive": "right"}, GOOD, None),
    (checks.fraction, 0, {"inclusive": "neither"}, BAD, "x must be a number in (0, 1), got 0"),
    (checks.fraction, 1, {"inclusive": "neither"}, BAD, "x must be a number in (0, 1), got 1"),
    (checks.fraction, 0.75, {"inclusive": "neither"}, GOOD, None),
    (checks.one_of, "svm", (("gp", "rf"),), BAD, "x must be one of gp, rf, got 'svm'"),
    (checks.one_of, None, (("gp", "rf"),), BAD, "x must be one of gp, rf, got None"),
    (checks.one_of, True, ((1, 2),), BAD, "x must be one of 1, 2, got True"),  # a bool is not 1
    (checks.one_of, 1, ((True, False),), BAD, "x must be one of True, False, got 1"),
    (checks.one_of, "rf", (("gp", "rf"),), GOOD, None),
    (checks.one_of, 2, (iter([1, 2]),), GOOD, None),  # any iterable of options
    (checks.boolean, 1, (), BAD, "x must be true or false, got 1"),
    (checks.boolean, "true", (), BAD, "x must be true or false, got 'true'"),
    (checks.boolean, None, (), BAD, "x must be true or false, got None"),
    (checks.boolean, False, (), GOOD, None),
]


def _call(helper, value, extra):
    if isinstance(extra, dict):
        return helper(value, "x", **extra)
    if helper is checks.one_of:
        return helper(value, *extra, "x")
    return helper(value, "x", *extra)


@pytest.mark.parametrize("helper, value, extra, outcome, message", TABLE,
                         ids=[f"{h.__name__}-{o}-{v!r}-{e!r}" for h, v, e, o, _ in TABLE])
def test_checks(helper, value, extra, outcome, message):
    if outcome == BAD:
        with pytest.raises(ArchscoutError) as e:
            _call(helper, value, extra)
        assert str(e.value) == message
    else:
        assert _call(helper, value, extra) is value


def test_the_table_covers_every_helper():
    assert {h.__name__ for h, *_ in TABLE} == set(checks.__all__)
    assert {e["inclusive"] for h, _, e, *_ in TABLE if isinstance(e, dict)} == {"left", "right", "neither"}
