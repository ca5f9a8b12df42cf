import numpy as np
import pytest

from archscout import ArchscoutError
from archscout.tasks import from_arrays, from_file, get_task, list_tasks


def test_mnist1d_standard_split_with_validation_carved_from_train():
    t = get_task("mnist1d")
    assert t.input_shape == (1, 40) and t.num_classes == 10
    assert len(t.train) + len(t.valid) == 4000 and len(t.test) == 1000
    assert 350 <= len(t.valid) <= 450
    # validation rows come from the 4,000 training rows, never from the test rows
    test_rows = {r.tobytes() for r in t.test.X}
    assert not any(r.tobytes() in test_rows for r in t.valid.X)
    full = t.full_train()
    assert len(full) == 4000


def test_mnist1d_hard_is_the_same_shape_with_other_noisier_data():
    easy, hard = get_task("mnist1d"), get_task("mnist1d-hard")
    assert hard.input_shape == (1, 40) and hard.num_classes == 10
    assert len(hard.train) + len(hard.valid) == 4000 and len(hard.test) == 1000
    assert not np.allclose(easy.test.X, hard.test.X)
    # more white noise: the signal's step-to-step differences are larger
    assert np.abs(np.diff(hard.test.X, axis=-1)).mean() > 1.1 * np.abs(np.diff(easy.test.X, axis=-1)).mean()


@pytest.mark.parametrize("name,shape,classes", [("digits", (1, 8, 8), 10), ("iris", (4,), 3), ("wine", (13,), 3),
                                                ("breast_cancer", (30,), 2)])
def test_sklearn_tasks(name, shape, classes):
    t = get_task(name)
    assert t.input_shape == shape and t.num_classes == classes
    assert t.test is not None and len(t.valid) > 0
    assert set(np.unique(t.train.y)) == set(range(classes))
    assert t.train.X.dtype == np.float32


def test_registry_lists_and_suggests():
    assert "mnist1d" in list_tasks()
    with pytest.raises(ArchscoutError, match="Did you mean 'mnist1d'"):
        get_task("mnist")


def test_from_arrays_with_string_labels_and_standardisation():
    rng = np.random.default_rng(0)
    X = rng.normal(5, 3, size=(200, 3))
    y = np.array(["cat", "dog"] * 100)
    t = from_arrays(X, y, name="pets")
    assert t.classes == ("cat", "dog") and t.num_classes == 2
    assert abs(float(t.train.X.mean())) < 0.1
    assert len(t.train) + len(t.valid) + len(t.test) == 200


def test_npz_and_csv_files(tmp_path):
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(60, 4)), np.arange(60) % 3
    np.savez(tmp_path / "d.npz", X=X, y=y, X_test=X[:10], y_test=y[:10])
    t = from_file(str(tmp_path / "d.npz"))
    assert t.name == "d" and len(t.test) == 10 and len(t.train) + len(t.valid) == 60
    lines = ["a,b,c,d,label"] + [",".join(f"{v:.4f}" for v in row) + f",{c}" for row, c in zip(X, y)]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    t = get_task(str(tmp_path / "d.csv"))
    assert t.input_shape == (4,) and t.num_classes == 3


@pytest.mark.parametrize("content,message", [
    ("", "empty"),
    ("a,b,label\n", "empty"),
    ("1,2,0\n1,x,1\n", "not a number"),
    ("1,2,0\n1,2\n", "columns"),
    ("1,2,0\n3,4,0\n", "at least two classes"),
    ("1,nan,0\n3,4,1\n5,6,1\n7,8,0\n", "data row 1, column 2: 'nan' is not a finite number"),
])
def test_malformed_csv_is_one_clear_error(tmp_path, content, message):
    p = tmp_path / "bad.csv"
    p.write_text(content)
    with pytest.raises(ArchscoutError, match=message):
        from_file(str(p))


def test_bad_arrays_and_files(tmp_path):
    with pytest.raises(ArchscoutError, match="3 samples but 2 labels"):
        from_arrays(np.zeros((3, 2)), [0, 1])
    with pytest.raises(ArchscoutError, match="empty"):
        from_arrays(np.zeros((0, 2)), [])
    with pytest.raises(ArchscoutError, match="NaN"):
        from_arrays(np.array([[np.inf, 1.0]] * 10), [0, 1] * 5)
    with pytest.raises(ArchscoutError, match="does not exist"):
        from_file(str(tmp_path / "missing.npz"))
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(ArchscoutError, match=r"not a valid .npz file \(it is not a zip archive\)"):
        from_file(str(tmp_path / "junk.npz"))
    np.savez(tmp_path / "nokeys.npz", a=np.zeros(3))
    with pytest.raises(ArchscoutError, match="needs arrays 'X' and 'y'"):
        from_file(str(tmp_path / "nokeys.npz"))
    np.savez(tmp_path / "shape.npz", X=np.zeros((10, 3)), y=np.arange(10) % 2, X_test=np.zeros((4, 5)),
             y_test=np.arange(4) % 2)
    with pytest.raises(ArchscoutError, match="shaped"):
        from_file(str(tmp_path / "shape.npz"))
    (tmp_path / "x.txt").write_text("1,2")
    with pytest.raises(ArchscoutError, match="unsupported"):
        from_file(str(tmp_path / "x.txt"))
