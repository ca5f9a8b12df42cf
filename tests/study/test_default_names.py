"""Default study names (TASK-SPACE) tell apart what used to share one, and a study stored under its former
default name still resumes by it (issue 29, part 1, item 9)."""
import pandas as pd
import pytest
from sklearn.datasets import load_wine

from archscout.study import Study


@pytest.fixture
def wine_csv(tmp_path):
    X, y = load_wine(return_X_y=True)
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    df["label"] = y
    for name in ("wine.csv", "data.csv"):
        df.to_csv(tmp_path / name, index=False)
    return tmp_path


def test_a_data_file_named_like_a_built_in_task_gets_a_name_of_its_own(wine_csv):
    db = f"sqlite:///{wine_csv}/n.db"
    assert Study(None, space="mlp", task="wine", storage=db).name == "wine-mlp"
    assert Study(None, space="mlp", task=str(wine_csv / "wine.csv"), storage=db).name == "wine.csv-mlp"
    assert Study(None, space="mlp", task=str(wine_csv / "data.csv"), storage=db).name == "data-mlp"  # as before


def test_a_lookup_evaluator_names_its_dataset():
    db = "sqlite:///:memory:"
    assert Study(None, evaluator="nas-bench-201:cifar10", storage=db).name == "nas-bench-201-cifar10-cell"
    assert Study(None, evaluator="nas-bench-201:cifar100", storage=db).name == "nas-bench-201-cifar100-cell"
    assert Study(None, evaluator="synthetic", storage=db).name == "synthetic-conv1d"  # no dataset: as before


def test_a_study_stored_under_its_former_default_name_resumes_by_it(tmp_path, wine_csv):
    db = f"sqlite:///{tmp_path}/old.db"
    Study("nas-bench-201-cell", evaluator="nas-bench-201:cifar10", storage=db)  # what archscout named it before
    Study("wine-mlp", space="mlp", task=str(wine_csv / "wine.csv"), storage=db)
    assert Study(None, evaluator="nas-bench-201:cifar10", storage=db).name == "nas-bench-201-cell"
    assert Study(None, space="mlp", task=str(wine_csv / "wine.csv"), storage=db).name == "wine-mlp"
    # the other dataset had the same default name: it gets the new one
    assert Study(None, evaluator="nas-bench-201:cifar100", storage=db).name == "nas-bench-201-cifar100-cell"
