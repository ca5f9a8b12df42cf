"""The per-trial and final-retraining lines a search prints: the study's first objective by name, the trial's real
time, and a multi-fidelity trial's rung (issue 29, part 1, items 3 and 7)."""
from types import SimpleNamespace

import pytest

from archscout.study.progress import final_line, trial_line
from archscout.study.trial import Trial


def _trial(objective: str, metrics: dict, duration: float | None = 2.5, **kw) -> Trial:
    study = SimpleNamespace(objectives=[(objective, "max")])
    arch = SimpleNamespace(describe=lambda: "mlp[32 relu]")
    return Trial(7, arch, "complete", metrics, kw.pop("details", {}), None, "b", 0, duration, 1,  # type: ignore[arg-type]
                 _study=study, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("objective, metrics, shown", [
    ("accuracy", {"accuracy": 0.96667}, "acc 0.9667"),
    ("r2", {"r2": 0.47123, "mse": 2900.5}, "r2 0.4712"),
    ("f1_macro", {"f1_macro": 0.912345}, "f1_macro 0.9123"),
    ("mse", {"mse": 2900.54, "r2": 0.4}, "mse 2901"),
])
def test_a_trial_line_leads_with_the_first_objective_by_name(objective, metrics, shown):
    line = trial_line(_trial(objective, {**metrics, "params": 1234, "latency_ms": 0.05, "train_seconds": 1.0}))
    assert line.startswith(f"#7    {shown}  params    1,234") and "nan" not in line


def test_a_trial_line_shows_the_trials_real_time_not_its_training_time():
    # a supernet-scored trial trains nothing (train_seconds 0) but took time to build, calibrate and score
    line = trial_line(_trial("accuracy", {"accuracy": 0.9, "params": 10, "latency_ms": 0.1, "train_seconds": 0.0},
                             duration=1.75))
    assert "  1.8 s" in line and " 0.0 s" not in line


def test_a_multi_fidelity_trial_line_shows_its_rung_and_fidelity():
    low = _trial("accuracy", {"accuracy": 0.8}, details={"rung": 0, "bracket": 0}, fidelity={"steps": 125})
    high = _trial("accuracy", {"accuracy": 0.9}, details={"rung": 2, "bracket": 0}, fidelity={"steps": 1000},
                  parent=3)
    assert "[rung 0 steps=125]" in trial_line(low)
    assert "[rung 2 steps=1000, from #3]" in trial_line(high)
    assert "[" not in trial_line(_trial("accuracy", {"accuracy": 0.9})).split("mlp")[0]  # the study's own budget


@pytest.mark.parametrize("objective, metrics, shown", [
    ("accuracy", {"test_accuracy": 0.9612, "train_seconds": 3.0}, "test acc 0.9612  (3.0 s)"),
    ("r2", {"test_r2": 0.5123, "test_mse": 2800.0}, "test R² 0.5123"),
    ("f1_macro", {"test_f1_macro": 0.9345}, "test f1_macro 0.9345"),
    ("val_error", {"test_val_error": 0.05, "test_accuracy": 0.95}, "test val_error 0.0500"),
])
def test_a_final_line_names_the_test_metric_it_shows(objective, metrics, shown):
    line = final_line(_trial(objective, {}), 1, metrics)
    assert line == f"final  #7    seed 1  {shown}" and "nan" not in line
