"""The supernet:FILE evaluator (issue 19): sub-networks scored with inherited weights, no training per candidate."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import archscout
from archscout import ArchscoutError, Study
from archscout.evaluate.training import predict, scores
from archscout.oneshot.supernet import elastic_spec
from archscout.oneshot.supernet.net import SuperNet, recalibrate
from archscout.oneshot.supernet.store import load_supernet, save_supernet
from archscout.oneshot.supernet.train import SupernetTraining, train_supernet
from archscout.tasks import from_arrays, get_task

SMALL = dict(widths=(8, 16), kernels=(3, 5), max_depth=2)


@pytest.fixture(scope="module")
def supernet_file(tmp_path_factory):
    task = get_task("mnist1d")
    torch.manual_seed(0)
    net = SuperNet(elastic_spec("conv1d", **SMALL), task.input_shape, task.num_classes)
    cfg = SupernetTraining(steps=30, batch_size=64)
    out = train_supernet(net, task.train, cfg, seed=0)
    path = str(tmp_path_factory.mktemp("supernet") / "net.pt")
    save_supernet(net, path, task=task, training=cfg, seed=0, train_seconds=out["train_seconds"], curve=out["curve"])
    return path


def study(path, tmp_path, **kwargs):
    options = dict(space="conv1d", task="mnist1d", evaluator=f"supernet:{path}", strategy="random",
                   storage=f"sqlite:///{tmp_path}/s.db", final_train={"steps": 20})
    return Study("sn", **{**options, **kwargs})


@pytest.mark.slow
def test_a_study_searches_the_supernets_elastic_space_and_scores_with_inherited_weights(supernet_file, tmp_path):
    s = study(supernet_file, tmp_path)
    assert s.space.name == "conv1d-elastic"
    s.run(trials=6, progress=False)
    done = [t for t in s.trials() if t.status == "complete"]
    assert len(done) == 6
    t = done[0]
    assert {"accuracy", "params", "latency_ms"} <= set(t.metrics)
    assert t.details["supernet"]["recalibration_samples"] == 2000
    # the score is the extracted sub-network's, BN recalibrated on the first 2,000 training samples (seed 0)
    net, _ = load_supernet(supernet_file)
    task = get_task("mnist1d")
    sub = net.extract(t.arch.values)
    idx = np.sort(np.random.default_rng(0).permutation(len(task.train))[:2000])
    X = torch.as_tensor(task.train.take(idx))
    recalibrate(sub, [X[i:i + 200] for i in range(0, 2000, 200)])
    expected = scores(predict(sub, task.valid), task.valid.y, task.kind, task.preprocessing)["accuracy"]
    assert t.metrics["accuracy"] == pytest.approx(expected)
    # the parameters are the stand-alone network's
    alone = s.space.build(t.arch, task.input_shape, task.num_classes)
    assert t.metrics["params"] == sum(p.numel() for p in alone.parameters())


@pytest.mark.parametrize("final, inherited", [("", True), (",final=scratch", False)])
@pytest.mark.slow
def test_the_final_retraining_fine_tunes_the_inherited_weights_or_starts_from_scratch(supernet_file, tmp_path,
                                                                                      final, inherited):
    s = study(supernet_file + final, tmp_path)
    s.run(trials=3, final_top_k=1, final_seeds=1, progress=False)
    retrained = [t for t in s.trials() if t.final]
    assert len(retrained) == 1
    f = retrained[0].final
    assert "test_accuracy_mean" in f
    assert ("test_accuracy_inherited_mean" in f) == inherited


def test_a_space_other_than_the_supernets_is_refused(supernet_file, tmp_path):
    with pytest.raises(ArchscoutError, match="holds sub-networks of the 'conv1d' space, not 'mlp'"):
        study(supernet_file, tmp_path, space="mlp")


@pytest.mark.slow
def test_a_task_or_data_other_than_the_supernets_is_refused(supernet_file, tmp_path):
    gen = np.random.default_rng(0)
    other = from_arrays(gen.normal(size=(200, 40)).astype(np.float32), gen.integers(0, 10, 200), name="other")
    with pytest.raises(ArchscoutError, match="was trained on task 'mnist1d', not 'other'"):
        study(supernet_file, tmp_path, task=other).run(trials=1, progress=False)
    with pytest.raises(ArchscoutError, match="was trained on other data of task 'mnist1d'"):
        study(supernet_file, tmp_path, task_options={"val_fraction": 0.2}).run(trials=1, progress=False)


@pytest.mark.parametrize("spec, message", [
    ("supernet", "name the supernet file"),
    ("supernet:/nonexistent/net.pt", "no supernet file at"),
    ("supernet:{file},final=later", "final='later'; it is one of finetune, scratch"),
])
def test_bad_supernet_specs_get_one_clear_message(supernet_file, tmp_path, spec, message):
    with pytest.raises(ArchscoutError, match=message):
        study(supernet_file, tmp_path, evaluator=spec.format(file=supernet_file))


def test_a_file_that_is_not_a_supernet_is_refused(tmp_path):
    bad = tmp_path / "x.pt"
    torch.save({"weights": 1}, bad)
    with pytest.raises(ArchscoutError, match="is not an archscout supernet file"):
        load_supernet(str(bad))
    bad.write_bytes(b"not a torch file")
    with pytest.raises(ArchscoutError, match="not a supernet file archscout can read"):
        load_supernet(str(bad))


def test_a_sub_network_outside_the_supernet_fails_as_a_trial_with_the_reason(supernet_file, tmp_path):
    s = study(supernet_file, tmp_path)
    evaluator = s.evaluator()
    outside = archscout.space.get_space("conv1d").architecture(
        {"stages": [{"op": "conv", "width": 128, "kernel": 3, "dilation": 1, "downsample": "maxpool",
                     "residual": False, "norm": "batch", "act": "relu"}], "head": "gap"})
    with pytest.raises(archscout.errors.TrialFailed, match="stage 0 has width 128"):
        evaluator.evaluate(outside)


@pytest.mark.slow
def test_the_report_shows_the_supernets_training_its_check_and_both_final_accuracies(supernet_file, tmp_path):
    import json

    from archscout.report.html import report

    s = study(supernet_file, tmp_path)
    s.run(trials=3, final_top_k=1, final_seeds=1, progress=False)
    html = report(s)
    assert 'id="supernet"' in html and "trained with bignas for 30 steps" in html
    assert "No ranking check yet" in html
    from archscout.report.dashboard import Dashboard  # the live dashboard shows the same section

    status, _, page, *_ = Dashboard(s.storage).route(f"/study/{s.name}")
    assert status == 200 and 'id="supernet"' in page and "trained with bignas for 30 steps" in page
    assert "with inherited weights (before fine-tuning)" in html
    check = {"samples": 3, "kendall_tau": 0.333, "spearman_rho": 0.5, "train": {"steps": 5},
             "gaps": {"smallest": {"params": 100, "inherited": 0.5, "alone": 0.6, "gap": 0.1}},
             "rows": [{"params": p, "inherited": a, "alone": b} for p, a, b in
                      ((100, 0.5, 0.6), (200, 0.7, 0.65), (300, 0.8, 0.9))]}
    with open(f"{supernet_file}.check.json", "w") as f:
        json.dump(check, f)
    try:
        html = report(s)
    finally:
        import os
        os.remove(f"{supernet_file}.check.json")
    assert "Kendall τ 0.333, Spearman ρ 0.500" in html and "+10.00" in html


@pytest.mark.slow
def test_multi_fidelity_schedulers_fine_tune_the_inherited_weights_at_each_rung(supernet_file, tmp_path):
    s = study(supernet_file, tmp_path, strategy="asha",
              strategy_options={"max_fidelity": 9, "min_fidelity": 1, "eta": 3})
    s.run(trials=8, progress=False)
    done = [t for t in s.trials() if t.status == "complete"]
    steps = {t.details["supernet"]["fine_tune_steps"] for t in done}
    assert 1 in steps and len(done) == 8
    assert {t.fidelity["steps"] for t in done} <= {1, 3, 9}
    # a fidelity fine-tunes first: the same candidate scores differently than with inherited weights alone
    evaluator = s.evaluator()
    arch = done[0].arch
    inherited = evaluator.evaluate(arch).metrics["loss"]
    tuned = evaluator.evaluate(arch, fidelity={"steps": 9}).metrics["loss"]
    assert tuned != pytest.approx(inherited, rel=1e-6)
    with pytest.raises(ArchscoutError, match="whole fine-tuning steps"):
        evaluator.evaluate(arch, fidelity={"steps": 2.5})
