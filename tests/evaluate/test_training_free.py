"""Training-free evaluation: learned predictors, the proxy@NAME metrics, the zero-cost and predictor:FILE
evaluators, proxy-guided search and `archscout proxies`.

The predictors learn from the committed ground truth (benchmarks/data/mnist1d-conv1d.jsonl: 320 conv1d
architectures trained on MNIST-1D, with every proxy of each); searches train for 20 steps only.
"""
import json
import os
import pickle
import re

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from archscout import Study
from archscout.cli import main
from archscout.errors import ArchscoutError
from archscout.evaluate import predictors
from archscout.evaluate.predictors import (
    PREDICTORS,
    EnsemblePredictor,
    GBTPredictor,
    ProxyCombination,
    TreePredictor,
    make_predictor,
    proxy_matrix,
)
from archscout.evaluate.proxies import PROXIES, describe_proxy, proxy_batch
from archscout.metrics import Constraint, check_metric, direction, parse_objectives
from archscout.space import Architecture, get_space
from archscout.storage import Storage
from archscout.study.guide import vote
from archscout.tasks import get_task

torch.set_num_threads(1)

GROUND_TRUTH = os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks", "data", "mnist1d-conv1d.jsonl")
# zen fails (None) on every network without BatchNorm, nwot on a few: the predictors must take that
SOME_PROXIES = ["nwot", "jacov", "flops", "synflow", "snip", "zen"]
FAST = {"steps": 20}


def cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, phrase):
    assert "Traceback" not in err and "internal error" not in err, err
    assert code == 2, (code, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert phrase in err, err


@pytest.fixture(scope="module")
def ground_truth():
    """(architectures, validation accuracies, proxy dicts) of the committed ground-truth file, in file order."""
    space = get_space("conv1d")
    with open(GROUND_TRUTH) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    rows = [r for r in rows if r["status"] == "complete"]
    archs = [Architecture.from_json(r["architecture"], space) for r in rows]
    return archs, np.array([r["val_accuracy"] for r in rows]), [r["proxies"] for r in rows]


def split(ground_truth, n_train=50, n_test=120):
    archs, y, proxies = ground_truth
    train = (archs[:n_train], y[:n_train], proxies[:n_train])
    test = (archs[n_train:n_train + n_test], y[n_train:n_train + n_test], proxies[n_train:n_train + n_test])
    return train, test


# -- predictors -------------------------------------------------------------------------------------

MIN_RHO = {"ensemble": 0.5, "combination": 0.5, "gbt": 0.5, "forest": 0.5, "gbt-encoding": 0.4,
           "gbt-proxies": 0.4}


@pytest.mark.parametrize("name", PREDICTORS)
@pytest.mark.slow
def test_a_predictor_fitted_on_50_architectures_ranks_held_out_ones(ground_truth, name):
    (archs, y, proxies), (test_archs, test_y, test_proxies) = split(ground_truth)
    assert any(p["zen"] is None for p in proxies)  # failed proxies are in the training data
    model = make_predictor(name, get_space("conv1d"), SOME_PROXIES, seed=0)
    assert model.fit(archs, y, proxies=proxies) is model
    mean, std = model.predict(test_archs, test_proxies, return_std=True)
    assert mean.shape == std.shape == (len(test_archs),)
    assert np.isfinite(mean).all() and (std >= 0).all()
    assert ((mean >= 0) & (mean <= 1)).all()  # accuracies are predicted as accuracies
    assert spearmanr(mean, test_y)[0] > MIN_RHO[name]
    np.testing.assert_array_equal(model.predict(test_archs, test_proxies), mean)  # return_std=False: the mean


def test_the_ensemble_averages_its_members_and_is_uncertain_where_they_disagree(ground_truth):
    (archs, y, proxies), (test_archs, _, test_proxies) = split(ground_truth)
    space = get_space("conv1d")
    gbt, forest = GBTPredictor(space, "both", SOME_PROXIES), TreePredictor(space, "both", SOME_PROXIES, "forest")
    assert gbt.kind == "gbt"
    ensemble = EnsemblePredictor([gbt, forest]).fit(archs, y, proxies)
    assert ensemble.proxies == tuple(SOME_PROXIES) and ensemble.space is space
    mean, std = ensemble.predict(test_archs, test_proxies, return_std=True)
    np.testing.assert_allclose(mean, (gbt.predict(test_archs, test_proxies)
                                      + forest.predict(test_archs, test_proxies)) / 2)
    gap = np.abs(gbt.predict(test_archs, test_proxies) - forest.predict(test_archs, test_proxies)) / 2
    assert (std >= gap - 1e-12).all() and std.max() > 0


def test_the_proxy_combination_scores_in_the_same_order_as_it_predicts(ground_truth):
    (archs, y, proxies), (_, test_y, test_proxies) = split(ground_truth)
    combo = ProxyCombination(SOME_PROXIES, seed=0).fit(archs, y, proxies=proxies)
    score = combo.score(test_proxies)
    assert score.shape == (len(test_proxies),) and spearmanr(score, test_y)[0] > 0.5
    predicted = combo.predict(None, test_proxies)  # it reads the proxies only
    order = np.argsort(score)
    assert (np.diff(predicted[order]) >= -1e-12).all()  # calibration to accuracy keeps the order
    assert combo.weights_.shape == (combo.n_bootstrap, len(SOME_PROXIES))


def test_a_failed_proxy_is_a_missing_feature_not_an_error(ground_truth):
    (archs, y, proxies), (test_archs, _, _) = split(ground_truth)
    holes = [{**p, "nwot": None} if i % 3 == 0 else {k: v for k, v in p.items() if k != "jacov"}
             for i, p in enumerate(proxies)]
    for name in ("ensemble", "combination", "gbt-proxies"):
        model = make_predictor(name, get_space("conv1d"), SOME_PROXIES).fit(archs, y, holes)
        nothing = [{p: None for p in SOME_PROXIES}, {}, None]  # failed, missing, no record
        mean, std = model.predict(test_archs[:3], nothing, return_std=True)
        assert np.isfinite(mean).all() and np.isfinite(std).all(), name


def test_proxy_features_are_log_scaled_with_nan_where_a_proxy_failed():
    m = proxy_matrix([{"nwot": 99.0, "flops": -9.0}, {"nwot": None}, {"nwot": float("inf"), "flops": 0.0}],
                     ["nwot", "flops"])
    np.testing.assert_allclose(m[0], [np.log(100.0), -np.log(10.0)])
    assert np.isnan(m[1]).all() and np.isnan(m[2, 0]) and m[2, 1] == 0.0


@pytest.mark.parametrize("model", [
    make_predictor("ensemble", get_space("conv1d")), make_predictor("gbt-encoding", get_space("conv1d")),
    ProxyCombination(["nwot"])], ids=["ensemble", "gbt-encoding", "combination"])
def test_predicting_before_fitting_says_so(ground_truth, tmp_path, model):
    archs, _, proxies = ground_truth
    with pytest.raises(ArchscoutError, match="not fitted yet; call fit first"):
        model.predict(archs[:2], proxies[:2])
    with pytest.raises(ArchscoutError, match="not fitted"):
        predictors.save(model, str(tmp_path / "p.pkl"))
    assert not os.path.exists(tmp_path / "p.pkl")


def test_an_unknown_predictor_names_the_valid_ones():
    with pytest.raises(ArchscoutError) as e:
        make_predictor("xgboost", get_space("conv1d"))
    assert "unknown predictor 'xgboost'" in str(e.value)
    assert "Valid predictors: combination, ensemble, forest, gbt, gbt-encoding, gbt-proxies" in str(e.value)


@pytest.mark.parametrize("make,phrase", [
    (lambda: TreePredictor(None, features="encoding"), "needs the space"),
    (lambda: TreePredictor(get_space("conv1d"), kind="xgb"), "unknown tree predictor 'xgb'"),
    (lambda: TreePredictor(get_space("conv1d"), features="graph"), "use one of encoding, proxies, both"),
    (lambda: TreePredictor(get_space("conv1d"), n_models=0), "n_models must be a positive integer, got 0"),
    (lambda: ProxyCombination(["nwot", "naswot"]), "unknown proxy 'naswot'"),
    (lambda: ProxyCombination([]), "name at least one proxy"),
    (lambda: EnsemblePredictor([]), "at least one member"),
])
def test_bad_predictor_settings_are_refused(make, phrase):
    with pytest.raises(ArchscoutError, match=phrase):
        make()


def test_fitting_needs_four_targets_one_per_architecture_and_the_proxies(ground_truth):
    archs, y, proxies = ground_truth
    model = make_predictor("gbt", get_space("conv1d"), ["nwot"])
    with pytest.raises(ArchscoutError, match="at least 4 trained architectures to learn from, got 3"):
        model.fit(archs[:3], y[:3], proxies[:3])
    with pytest.raises(ArchscoutError, match="one target per architecture"):
        model.fit(archs[:6], y[:5], proxies[:6])
    with pytest.raises(ArchscoutError, match="got 5 proxy records for 6 architectures"):
        model.fit(archs[:6], y[:6], proxies[:5])
    with pytest.raises(ArchscoutError, match="finite"):
        model.fit(archs[:6], [0.5, 0.6, float("nan"), 0.2, 0.3, 0.4], proxies[:6])
    with pytest.raises(ArchscoutError, match=r"needs the proxy scores \(nwot\)"):
        model.fit(archs[:6], y[:6])
    with pytest.raises(ArchscoutError, match="at least 4"):
        ProxyCombination(["nwot"]).fit(archs[:2], y[:2], proxies[:2])


def test_the_proxy_combination_fits_on_four_architectures_whatever_the_seed(ground_truth):
    archs, y, proxies = ground_truth
    for seed in range(20):  # resamples of four often draw one architecture only, or tied accuracies
        combo = ProxyCombination(["nwot", "flops"], seed=seed).fit(archs[:4], y[:4], proxies[:4])
        assert np.isfinite(combo.predict(archs[4:8], proxies[4:8])).all()
    tied = ProxyCombination(["nwot", "flops"]).fit(archs[:4], [0.1, 0.1, 0.1, 0.2], proxies[:4])
    assert np.isfinite(tied.predict(archs[4:8], proxies[4:8])).all()
    none = [{"zen": None} for _ in range(4)]
    assert np.isfinite(ProxyCombination("zen").fit(archs[:4], y[:4], none).predict(archs[4:8], none)).all()


@pytest.mark.parametrize("name", ["ensemble", "combination"])
@pytest.mark.slow
def test_a_saved_predictor_loads_with_identical_predictions_and_a_header(ground_truth, tmp_path, name):
    (archs, y, proxies), (test_archs, _, test_proxies) = split(ground_truth, n_train=40, n_test=30)
    model = make_predictor(name, get_space("conv1d"), ["nwot", "jacov", "flops"]).fit(archs, y, proxies)
    path = str(tmp_path / "p.pkl")
    header = predictors.save(model, path, task="mnist1d", note="ci")
    loaded, read = predictors.load(path)
    assert read == header
    assert header["proxies"] == ["nwot", "jacov", "flops"] and header["task"] == "mnist1d" and header["note"] == "ci"
    assert header["space"] == ("conv1d" if name == "ensemble" else None)  # a combination reads proxies only
    assert header["type"] == type(model).__name__ and header["fitted_on"] == 40
    assert len(header["fingerprint"]) == 16 and int(header["fingerprint"], 16) >= 0
    for a, b in zip(model.predict(test_archs, test_proxies, return_std=True),
                    loaded.predict(test_archs, test_proxies, return_std=True)):
        np.testing.assert_array_equal(a, b)
    refit = make_predictor(name, get_space("conv1d"), ["nwot", "jacov", "flops"], seed=1).fit(archs, y, proxies)
    assert predictors.save(refit, str(tmp_path / "q.pkl"))["fingerprint"] != header["fingerprint"]


def test_loading_anything_but_a_predictor_file_is_a_clear_error(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a pickle\n")
    a_dict = tmp_path / "dict.pkl"
    a_dict.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    wrong_magic = tmp_path / "magic.pkl"
    wrong_magic.write_bytes(pickle.dumps({"header": {"magic": "other/1"}, "predictor": b""}))
    broken = tmp_path / "broken.pkl"
    broken.write_bytes(pickle.dumps({"header": {"magic": predictors.FILE_MAGIC}, "predictor": b"garbage"}))
    empty = tmp_path / "empty.pkl"
    empty.write_bytes(b"")
    for path in (text, a_dict, wrong_magic, broken, empty, tmp_path):
        with pytest.raises(ArchscoutError, match="is not a predictor file written by archscout"):
            predictors.load(str(path))
    with pytest.raises(ArchscoutError, match="no predictor file at"):
        predictors.load(str(tmp_path / "missing.pkl"))


# -- proxies and metrics ------------------------------------------------------------------------------

def test_the_proxy_batch_is_training_samples_drawn_by_the_seed():
    task = get_task("mnist1d")
    (x,), y, mask = proxy_batch(task, 32, seed=1)
    assert x.shape == (32,) + tuple(task.input_shape) and y.shape == (32,) and mask is None
    train = task.train.X.reshape(len(task.train), -1)
    valid = {row.tobytes() for row in task.valid.X.reshape(len(task.valid), -1).astype(np.float32)}
    for row, label in zip(x.numpy().reshape(32, -1), y.numpy()):
        hits = np.flatnonzero((train == row).all(1))
        assert len(hits) and label in task.train.y[hits]  # a training sample, with its own label
        assert row.tobytes() not in valid
    (again,), _, _ = proxy_batch(task, 32, seed=1)
    (other,), _, _ = proxy_batch(task, 32, seed=2)
    assert torch.equal(x, again) and not torch.equal(x, other)
    assert proxy_batch(task, 10 ** 6)[0][0].shape[0] == len(task.train)  # at most the training part


def test_the_proxy_batch_of_a_graph_is_the_whole_graph_with_training_nodes_masked():
    graph = get_task("mnist1d-knn")
    (x, edge_index), y, mask = proxy_batch(graph, 50, seed=3)
    assert x.shape[0] == graph.num_nodes and edge_index.shape[0] == 2 and y.shape[0] == graph.num_nodes
    assert mask.dtype == torch.bool and int(mask.sum()) == 50
    assert not (mask.numpy() & ~graph.train_mask).any()  # never a validation or test node
    assert torch.equal(mask, proxy_batch(graph, 50, seed=3)[2])
    assert not torch.equal(mask, proxy_batch(graph, 50, seed=4)[2])


def test_each_proxy_describes_its_paper():
    assert "Mellor et al., ICML 2021" in describe_proxy("nwot")
    assert "\n" not in describe_proxy("synflow") and "Tanaka" in describe_proxy("synflow")
    with pytest.raises(ArchscoutError, match="Valid proxies: epe_nas"):
        describe_proxy("naswot")


def test_proxy_metrics_are_named_proxy_at_name():
    assert check_metric("proxy@nwot") == "proxy@nwot" and direction("proxy@nwot") == "max"
    assert direction("predicted_accuracy") == "max" and check_metric("predicted_accuracy") == "predicted_accuracy"
    assert parse_objectives("proxy@synflow,params:min") == [("proxy@synflow", "max"), ("params", "min")]
    assert Constraint.parse("proxy@jacov >= -5e6").metric == "proxy@jacov"
    with pytest.raises(ArchscoutError) as e:
        check_metric("proxy@bogus")
    assert "unknown proxy 'bogus'" in str(e.value) and all(p in str(e.value) for p in PROXIES)
    with pytest.raises(ArchscoutError, match="name the proxy: proxy@NAME"):
        check_metric("proxy")


# -- evaluators ---------------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_zero_cost_study_ranks_by_nwot_and_still_retrains_its_best(tmp_path):
    study = Study("zc", space="conv1d", task="mnist1d", evaluator="zero-cost", storage=f"sqlite:///{tmp_path}/s.db",
                  train=FAST)
    assert study.objectives == [("proxy@nwot", "max")]
    study.run(trials=6, final_top_k=1, final_seeds=1)
    trials = study.trials()
    assert len(trials) == 6
    complete = [t for t in trials if t.status == "complete"]
    assert complete and all("nwot" in t.error for t in trials if t.status == "failed")
    for t in complete:
        assert {"proxy@nwot", "params", "flops"} <= set(t.metrics) and "accuracy" not in t.metrics
        assert t.budget == "zero-cost" and t.details["proxies"]["batch"] == "64 training samples, seed 0"
    best = study.best()
    assert best.metrics["proxy@nwot"] == max(t.metrics["proxy@nwot"] for t in complete)
    assert best.final["seeds"] == 1 and 0 <= best.final["test_accuracy_mean"] <= 1
    assert [t.number for t in study.trials() if t.final] == [best.number]  # only the best is retrained


def test_a_zero_cost_study_cannot_optimise_accuracy(tmp_path):
    with pytest.raises(ArchscoutError, match="not measured by the zero-cost evaluator"):
        Study("zc", evaluator="zero-cost", objective="accuracy", storage=f"sqlite:///{tmp_path}/s.db")


@pytest.fixture(scope="module")
def trained_pair(tmp_path_factory):
    """The same 5-trial training study twice, in two databases: with proxy@synflow measured and without."""
    folder = tmp_path_factory.mktemp("pair")
    studies = {}
    for key, measure in (("measured", ["proxy@synflow"]), ("plain", [])):
        url = f"sqlite:///{folder}/{key}.db"
        study = Study("tiny", space="conv1d", task="mnist1d", storage=url, train=FAST, measure=measure)
        study.search(trials=5)
        studies[key] = (study, url)
    return studies


@pytest.mark.slow
def test_measured_proxies_are_stored_next_to_accuracy_and_do_not_change_training(trained_pair):
    measured, plain = trained_pair["measured"][0].trials(), trained_pair["plain"][0].trials()
    assert len(measured) == len(plain) == 5
    for m, p in zip(measured, plain):
        assert m.arch.id == p.arch.id and m.status == p.status == "complete"
        assert m.metrics["proxy@synflow"] > 0 and "accuracy" in m.metrics
        assert m.details["proxy_seconds"]["synflow"] >= 0
        assert not any(k.startswith("proxy@") for k in p.metrics)
        for key in ("accuracy", "loss", "train_loss"):
            assert m.metrics[key] == p.metrics[key], key


@pytest.fixture(scope="module")
def saved_predictor(ground_truth, tmp_path_factory):
    """An ensemble fitted on 40 ground-truth architectures, saved for mnist1d and (a copy) for another task."""
    archs, y, proxies = ground_truth
    model = make_predictor("ensemble", get_space("conv1d"), ["nwot", "jacov", "flops"]).fit(archs[:40], y[:40],
                                                                                            proxies[:40])
    folder = tmp_path_factory.mktemp("predictor")
    header = predictors.save(model, str(folder / "mnist1d.pkl"), task="mnist1d")
    predictors.save(model, str(folder / "other.pkl"), task="other")
    return model, header, folder


@pytest.mark.slow
def test_a_predictor_study_stores_predicted_accuracy_and_its_uncertainty(saved_predictor, tmp_path):
    model, header, folder = saved_predictor
    study = Study("pred", evaluator=f"predictor:{folder / 'mnist1d.pkl'}", storage=f"sqlite:///{tmp_path}/s.db",
                  train=FAST)
    assert study.objectives == [("predicted_accuracy", "max")] and study.space.name == "conv1d"
    study.search(trials=4)
    trials = study.trials("complete")
    assert len(trials) == 4
    for t in trials:
        assert 0 <= t.metrics["predicted_accuracy"] <= 1 and t.metrics["predicted_accuracy_std"] >= 0
        assert "accuracy" not in t.metrics and t.details["predictor"]["fingerprint"] == header["fingerprint"]
        scores = {p: t.metrics.get(f"proxy@{p}") for p in header["proxies"]}
        mean, std = model.predict([t.arch], [scores], return_std=True)
        assert mean[0] == pytest.approx(t.metrics["predicted_accuracy"])
        assert std[0] == pytest.approx(t.metrics["predicted_accuracy_std"])
    assert study.best().metrics["predicted_accuracy"] == max(t.metrics["predicted_accuracy"] for t in trials)


def test_a_predictor_fitted_on_another_task_or_space_is_refused(saved_predictor, tmp_path):
    _, _, folder = saved_predictor
    db = f"sqlite:///{tmp_path}/s.db"
    with pytest.raises(ArchscoutError, match="was fitted on task 'other', not 'mnist1d'"):
        Study("other", evaluator=f"predictor:{folder / 'other.pkl'}", task="mnist1d", storage=db).search(trials=1)
    with pytest.raises(ArchscoutError, match="'conv1d' space, not 'mlp'"):
        Study("mlp", space="mlp", evaluator=f"predictor:{folder / 'mnist1d.pkl'}", storage=db)
    assert Storage(db).list_studies() == []


@pytest.mark.parametrize("spec,phrase", [
    ("predictor:{tmp}/missing.pkl", "no predictor file at"),
    ("predictor:", "name the predictor file: --evaluator predictor:FILE"),
    ("predictor:{tmp}/notes.txt", "is not a predictor file written by archscout"),
])
def test_a_missing_or_foreign_predictor_file_is_a_clear_error(tmp_path, spec, phrase):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ArchscoutError, match=phrase):
        Study("p", evaluator=spec.format(tmp=tmp_path), storage=f"sqlite:///{tmp_path}/s.db")


# -- proxy-guided search ------------------------------------------------------------------------------

def test_the_vote_sums_ranks_and_puts_a_failed_proxy_last():
    scores = [{"nwot": 3.0, "flops": 10.0}, {"nwot": None, "flops": 30.0}, {"nwot": 5.0, "flops": 20.0}]
    np.testing.assert_array_equal(vote(scores, ["nwot"]), [2, 1, 3])
    np.testing.assert_array_equal(vote(scores, ["nwot", "flops"]), [3, 4, 5])
    assert int(np.argmax(vote(scores, ["nwot", "flops"]))) == 2
    np.testing.assert_array_equal(vote([{}, {"nwot": -1e9}], ["nwot"]), [1, 2])  # missing counts as failed


@pytest.mark.slow
def test_a_proxy_guided_search_trains_the_vote_winners_and_stores_their_proxies(tmp_path):
    study = Study("vote", space="conv1d", task="mnist1d", storage=f"sqlite:///{tmp_path}/s.db", train=FAST,
                  guide="proxies")
    assert study.guide == {"by": "proxies", "pool": 10, "proxies": ["nwot", "jacov", "flops"]}
    study.search(trials=4)
    trials = study.trials()
    assert len(trials) == 4
    for t in trials:
        assert t.status == "complete" and "accuracy" in t.metrics
        assert {"proxy@nwot", "proxy@jacov", "proxy@flops"} <= set(t.metrics)
        guide = t.details["guide"]
        assert guide["by"] == "vote" and guide["pool"] == 10 and guide["seconds"] >= 0


@pytest.mark.slow
def test_a_predictor_guided_search_switches_to_the_predictor_after_warmup_and_resumes(tmp_path):
    db = f"sqlite:///{tmp_path}/s.db"
    guide = {"by": "predictor", "pool": 4, "warmup": 4, "proxies": "nwot,jacov,flops,zen"}
    study = Study("guided", space="conv1d", task="mnist1d", storage=db, train=FAST, guide=guide)
    study.search(trials=6)
    trials = study.trials()
    assert [t.details["guide"]["by"] for t in trials] == ["vote"] * 4 + ["ensemble"] * 2
    assert [t.details["guide"].get("fitted_on") for t in trials[4:]] == [4, 5]
    assert all(t.details["guide"]["pool"] == 4 and 0 <= t.details["guide"]["predicted"] <= 1 for t in trials[4:])
    assert all({"proxy@jacov", "proxy@flops"} <= set(t.metrics) for t in trials)
    # nwot cannot score a network whose activation-code kernel is singular: its reason is stored instead
    assert all("proxy@nwot" in t.metrics or "kernel is singular" in t.details["proxy_errors"]["nwot"] for t in trials)

    again = Study("guided", space="conv1d", task="mnist1d", storage=db, train=FAST, guide=guide)
    again.search(trials=7)
    trials = again.trials()
    assert len(trials) == 7 and len({t.arch.id for t in trials}) == 7
    assert trials[6].details["guide"]["by"] == "ensemble"
    assert trials[6].details["guide"]["fitted_on"] == 6  # refitted from what storage holds
    with pytest.raises(ArchscoutError, match="already exists with other settings"):
        Study("guided", space="conv1d", task="mnist1d", storage=db, train=FAST, guide={**guide, "pool": 5})


@pytest.mark.parametrize("settings,phrase", [
    ({"guide": "oracle"}, "unknown guide 'oracle'"),
    ({"guide": {"by": "proxies", "pool": 1}}, "guide pool must be an integer >= 2, got 1"),
    ({"guide": {"by": "proxies", "pool": True}}, "guide pool must be an integer >= 2"),
    ({"guide": {"by": "predictor", "warmup": 2}}, "guide warmup must be an integer >= 4"),
    ({"guide": {"by": "proxies", "size": 3}}, "unknown guide option(s) size"),
    ({"guide": {"by": "proxies", "proxies": "nwot,bogus"}}, "unknown proxy 'bogus'"),
    ({"guide": {"by": "proxies", "proxies": ","}}, "naming at least one, got ','"),
    ({"guide": {"by": "proxies", "proxies": []}}, "naming at least one, got []"),
    ({"guide": {"by": "proxies", "proxies": 5}}, "guide proxies are a list of proxy names"),
    ({"guide": {"by": "proxies", "proxies": ["nwot", 5]}}, "a guide proxy is a proxy name, got 5"),
    ({"guide": {"by": "predictor", "predictor": "xgb"}}, "unknown predictor 'xgb'"),
    ({"guide": "proxies", "evaluator": "zero-cost"}, "needs the train evaluator"),
    ({"guide": "proxies", "objectives": "accuracy:max,params:min", "strategy": "nsga2"},
     "cannot be used with several objectives"),
])
def test_bad_guide_settings_are_refused_before_anything_is_stored(tmp_path, settings, phrase):
    db = f"sqlite:///{tmp_path}/s.db"
    with pytest.raises(ArchscoutError) as e:
        Study("g", space="conv1d", task="mnist1d", storage=db, train=FAST, **settings)
    assert phrase in str(e.value)
    assert Storage(db).list_studies() == []


# -- archscout proxies -------------------------------------------------------------------------------

@pytest.mark.slow
def test_proxies_on_the_ground_truth_writes_correlations_plots_and_a_predictor(capsys, tmp_path):
    out_json, png, pkl = tmp_path / "proxies.json", tmp_path / "proxies.png", tmp_path / "combo.pkl"
    code, out, err = cli(capsys, "proxies", "--ground-truth", GROUND_TRUTH, "--proxies", "nwot,flops,jacov",
                         "--json", out_json, "--plots", png, "--save-predictor", pkl, "--predictor", "combination")
    assert code == 0, err
    assert "Spearman" in out and f"wrote {out_json}" in out
    doc = json.loads(out_json.read_text())
    assert doc["architectures"] == 320
    rows = {r["proxy"]: r for r in doc["proxies"]}
    assert list(rows) == ["nwot", "flops", "jacov"]
    for r in rows.values():
        assert -1 <= r["spearman"] <= 1 and -1 <= r["kendall"] <= 1 and r["scored"] + r["failed"] == 320
    assert rows["nwot"]["spearman"] > 0.5 and rows["nwot"]["failed"] > 0  # nwot fails on a few networks
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model, header = predictors.load(str(pkl))
    assert isinstance(model, ProxyCombination)
    assert header["proxies"] == ["nwot", "flops", "jacov"] and header["task"] == "mnist1d"
    assert header["fitted_on"] == 320

    db = f"sqlite:///{tmp_path}/s.db"  # the predictor it wrote drives a search
    code, out, err = cli(capsys, "search", "--evaluator", f"predictor:{pkl}", "--trials", "3", "--storage", db,
                         "--study", "combo", "--top-k", "0", "--no-progress", "--steps", "20")
    assert code == 0, err
    store = Storage(db)
    trials = store.trials(store.get_study("combo").id)
    assert len(trials) == 3 and all("predicted_accuracy" in t.metrics for t in trials if t.status == "complete")


def test_proxies_list_names_all_fourteen_with_their_papers(capsys):
    code, out, _ = cli(capsys, "proxies", "--list")
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 14 == len(PROXIES)
    assert [line.split()[0] for line in lines] == list(PROXIES)
    assert "Mellor" in lines[PROXIES.index("nwot")]


def test_proxies_of_a_studys_trained_trials(capsys, tmp_path, trained_pair):
    docs = {}
    for key in ("plain", "measured"):  # computed now / stored by the search
        _, url = trained_pair[key]
        out_json = tmp_path / f"{key}.json"
        code, out, err = cli(capsys, "proxies", "--study", "tiny", "--storage", url, "--proxies", "synflow,nwot",
                             "--json", out_json)
        assert code == 0, err
        assert "study tiny (5 trained)" in out
        docs[key] = json.loads(out_json.read_text())
        assert docs[key]["architectures"] == 5
    for a, b in zip(docs["plain"]["proxies"], docs["measured"]["proxies"]):
        assert a["proxy"] == b["proxy"] and a["spearman"] == pytest.approx(b["spearman"])


@pytest.mark.parametrize("args,phrase", [
    (["proxies", "--proxies", "bogus", "--ground-truth", GROUND_TRUTH],
     "unknown proxy 'bogus'. Valid proxies: epe_nas, fisher, flops"),
    (["proxies"], "say which trained architectures to use: --study NAME"),
    (["proxies", "--ground-truth", GROUND_TRUTH, "--study", "x"], "leave out --study"),
    (["proxies", "--ground-truth", "no/such/file.jsonl"], "no ground-truth file at"),
    (["proxies", "--ground-truth", GROUND_TRUTH, "--save-predictor", "p.pkl", "--predictor", "xgb"],
     "unknown predictor 'xgb'"),
    (["proxies", "--samples", "2"], "--samples must be at least 3"),
    (["proxies", "--samples", "3", "--save-predictor", "p.pkl"], "fits on at least 4 trained architectures"),
    (["proxies", "--ground-truth", GROUND_TRUTH, "--predictor", "gbt"], "add --save-predictor FILE"),
    (["proxies", "--ground-truth", GROUND_TRUTH, "--steps", "50", "--space", "mlp"],
     "--space, --steps set up the study that --samples trains; the ground-truth file already has its own"),
    (["proxies", "--study", "x", "--task", "iris"], "--task set up the study that --samples trains; a study"),
    (["search", "--guide-pool", "4", "--trials", "1"], "add --guide proxies or --guide predictor"),
    (["search", "--guide-proxies", "nwot", "--trials", "1"], "add --guide proxies or --guide predictor"),
])
def test_bad_proxies_and_guide_options_are_one_line_errors(capsys, tmp_path, monkeypatch, args, phrase):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ARCHSCOUT_DEBUG", raising=False)
    code, _, err = cli(capsys, *args)
    assert_one_line_error(code, err, phrase)
    assert not os.path.exists(tmp_path / "archscout.db") and not os.path.exists(tmp_path / "p.pkl")


@pytest.mark.slow
def test_the_python_examples_of_the_training_free_guide_run(monkeypatch):
    """docs/training-free.md's examples run as written, from the repository's root."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    blocks = re.findall(r"```python\n(.*?)```", (root / "docs" / "training-free.md").read_text(), re.S)
    assert len(blocks) == 2
    monkeypatch.chdir(root)
    first: dict = {}
    exec(compile(blocks[0], "training-free.md", "exec"), first)
    assert set(first["scores"]) == set(PROXIES)
    second: dict = {}
    exec(compile(blocks[1], "training-free.md", "exec"), second)
    assert len(second["mean"]) == len(second["archs"]) - 50 and (second["std"] >= 0).all()
    assert second["header"]["task"] == "mnist1d"


def test_proxies_of_a_lookup_study_are_refused(tmp_path, capsys):
    db = f"sqlite:///{tmp_path}/s.db"
    Study("lookup", evaluator="synthetic", storage=db).search(trials=3)
    assert main(["proxies", "--study", "lookup", "--storage", db]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "uses the synthetic evaluator, which looks results up and builds no network" in err[0]


@pytest.mark.slow
def test_a_zero_cost_study_shows_its_best_and_exports_the_retrained_model(tmp_path, capsys):
    db = f"sqlite:///{tmp_path}/s.db"
    Study("zc", space="mlp", task="iris", evaluator="zero-cost", storage=db, train={"steps": 30}).search(trials=4)
    assert main(["best", "zc", "--storage", db]) == 0
    out = capsys.readouterr().out
    assert "proxy@nwot" in out and "not retrained yet" in out
    assert main(["show", "zc", "--storage", db]) == 0
    out = capsys.readouterr().out
    assert re.search(r"top \d by proxy@nwot", out) and "by validation" not in out  # nwot: on training data
    assert main(["export", "zc", "--storage", db, "--out", str(tmp_path / "model")]) == 0
    assert (tmp_path / "model" / "model.onnx").exists() and (tmp_path / "model" / "model.pt").exists()


@pytest.mark.slow
def test_a_guided_search_runs_with_a_pool_of_workers(tmp_path):
    study = Study("pool", space="mlp", task="iris", storage=f"sqlite:///{tmp_path}/s.db", train={"steps": 20},
                  guide={"by": "predictor", "pool": 4, "warmup": 4, "proxies": "nwot,jacov,flops"})
    study.search(trials=6, workers=2)
    trials = study.trials()
    assert len(trials) == 6 and all(t.status == "complete" for t in trials)
    assert all("guide" in t.details and "proxy@flops" in t.metrics for t in trials)


@pytest.mark.slow
def test_a_zero_cost_study_takes_cost_constraints_and_latency_prescreening(tmp_path):
    study = Study("zc", space="conv1d", task="mnist1d", evaluator="zero-cost", storage=f"sqlite:///{tmp_path}/s.db",
                  constraints=["latency_ms <= 0.3"], prescreen_latency=True)
    study.search(trials=8)
    trials = study.trials()
    assert len(trials) == 8
    for t in trials:  # whether a measured latency passes depends on the machine's load: either way is checked
        if t.status == "complete":
            assert t.metrics["latency_ms"] <= 0.3 and "proxy@nwot" in t.metrics
        elif t.status == "failed":  # nwot, the objective, cannot score a network whose kernel is singular
            assert t.error.startswith("nwot: the activation-code kernel is singular"), t.error
        else:  # rejected before any proxy: on the lookup table's estimate (not measured), or measured over it
            assert t.status == "infeasible" and "proxy@nwot" not in t.metrics, t.error
            if "by the per-operator lookup table" in t.error:
                assert "latency_ms" not in t.metrics
            else:
                assert t.metrics["latency_ms"] > 0.3
    assert any("by the per-operator lookup table" in (t.error or "") for t in trials)


@pytest.mark.slow
def test_a_constraint_on_a_proxy_is_checked_before_training(tmp_path):
    study = Study("cons", space="mlp", task="iris", train={"steps": 5}, constraints=["proxy@nwot >= 300"],
                  storage=f"sqlite:///{tmp_path}/s.db")
    study.search(trials=10, max_failures=0)
    by_status: dict = {}
    for t in study.trials():
        by_status.setdefault(t.status, []).append(t)
    assert set(by_status) == {"complete", "infeasible", "failed"}, by_status.keys()
    assert all(t.metrics["proxy@nwot"] >= 300 and "accuracy" in t.metrics for t in by_status["complete"])
    for t in by_status["infeasible"]:  # never trained
        assert t.metrics["proxy@nwot"] < 300 and "accuracy" not in t.metrics and "train_seconds" not in t.metrics
    for t in by_status["failed"]:  # nwot could not score it, so the constraint cannot hold: not trained either
        assert t.error.startswith("constraint proxy@nwot >= 300 cannot be checked: proxy@nwot could not be "
                                  "computed (nwot: "), t.error


@pytest.mark.slow
def test_a_guide_ranks_candidates_that_break_a_cost_constraint_last(tmp_path):
    study = Study("g", space="mlp", task="iris", train={"steps": 5}, constraints=["params <= 5000"], guide="proxies",
                  seed=1, storage=f"sqlite:///{tmp_path}/s.db")
    study.search(trials=8)
    trials = study.trials()
    # the vote prefers wide networks: without the constraint in the ranking, every one of these broke it
    assert [t.status for t in trials] == ["complete"] * 8
    assert all(t.metrics["params"] <= 5000 for t in trials)
    assert any(t.details["guide"].get("infeasible_in_pool", 0) > 0 for t in trials)


@pytest.mark.slow
def test_proposals_a_guide_drops_leave_no_pending_optuna_trials(tmp_path):
    from archscout.strategy import make_strategy

    strategy = make_strategy("optuna-tpe", get_space("mlp"), seed=0)
    kept, dropped = strategy.ask(), strategy.ask()
    strategy.discard(dropped)
    strategy.tell(kept, 0.9)
    states = [t.state.name for t in strategy.study.get_trials(deepcopy=False)]
    assert sorted(states) == ["COMPLETE", "FAIL"] and not strategy.pending
    study = Study("tpe", space="mlp", task="iris", train={"steps": 5}, strategy="optuna-tpe",
                  guide={"by": "proxies", "pool": 5}, storage=f"sqlite:///{tmp_path}/s.db")
    study.search(trials=4)
    assert [t.status for t in study.trials()] == ["complete"] * 4


@pytest.mark.slow
def test_a_predictor_study_reads_anywhere_and_refuses_another_predictor_on_resume(saved_predictor, ground_truth,
                                                                                   tmp_path, monkeypatch, capsys):
    import shutil

    model, _, folder = saved_predictor
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(folder / "mnist1d.pkl", work / "p.pkl")
    monkeypatch.chdir(work)
    db = f"sqlite:///{tmp_path}/s.db"
    study = Study("pred", evaluator="predictor:p.pkl", storage=db, train=FAST)  # a relative path
    assert study.evaluator_spec == f"predictor:{work / 'p.pkl'}"
    study.search(trials=2)
    monkeypatch.chdir(tmp_path)  # elsewhere, and the file gone: the trials can still be read
    (work / "p.pkl").rename(work / "moved.pkl")
    assert main(["show", "pred", "--storage", db]) == 0
    assert len(Study.load("pred", db, check_task=False).trials()) == 2
    with pytest.raises(ArchscoutError, match="no predictor file at"):
        Study.load("pred", db)  # resuming needs it
    archs, y, proxies = ground_truth
    other = make_predictor("forest", get_space("conv1d"), ["nwot", "jacov", "flops"])
    other.fit(archs[40:60], y[40:60], proxies[40:60])
    predictors.save(other, str(work / "p.pkl"), task="mnist1d")  # another predictor under the old name
    with pytest.raises(ArchscoutError, match="already exists with other settings \\(predictor: stored"):
        Study.load("pred", db)
    capsys.readouterr()


def test_a_predictor_fitted_on_another_definition_of_the_space_is_refused(saved_predictor, tmp_path):
    _, header, folder = saved_predictor
    assert header["space_fingerprint"] == get_space("conv1d").fingerprint()
    with open(folder / "mnist1d.pkl", "rb") as f:
        blob = pickle.load(f)
    blob["header"]["space_fingerprint"] = "0" * 16
    with open(tmp_path / "changed.pkl", "wb") as f:
        pickle.dump(blob, f)
    with pytest.raises(ArchscoutError, match="was fitted on another definition of the 'conv1d' space"):
        Study("p", evaluator=f"predictor:{tmp_path / 'changed.pkl'}", storage=f"sqlite:///{tmp_path}/s.db")


def test_an_output_that_cannot_be_written_is_refused_before_any_work(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    for option, target in (("--json", tmp_path), ("--plots", tmp_path / "afile" / "p.png"),
                           ("--save-predictor", tmp_path)):
        assert main(["proxies", "--ground-truth", GROUND_TRUTH, "--proxies", "nwot", option, str(target)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"error: {option} ")
