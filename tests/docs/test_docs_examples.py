"""Every ```python block of README.md and docs/ runs as written.

The blocks are found, not listed: a new page, or a new block on a page, is executed without touching
this file. The blocks of one page run in order in one namespace (a later block uses the names of an
earlier one), in a fresh temporary working folder, so whatever an example writes lands there.

What the test changes, and why, is spelled out per page below:

- SETUP: what the reader is assumed to have already (a study searched with the command shown just
  before, data files of their own). It prepares the working folder; it is never the example itself.
- SHRINK: examples search for half an hour or train for thousands of steps, as a reader would. The
  test replaces those budgets textually by small ones; every replaced text must occur in the page,
  so an edited example cannot silently escape the shrinking (or this list go stale).
- CHECKS: what an example claims to produce, asserted after it ran.

A block that is not meant to run (output, a shell session, a file's content) is tagged ```text,
```console, ```bash, ```toml, ... and not ```python; every block must carry a tag, so a block of
Python cannot slip through untagged.
"""
import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
PYTHON_TAGS = {"python", "py", "python3", "py3"}
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<tag>[^`\s]*)")


def code_blocks(page: Path) -> list[tuple[str, int, str]]:
    """(tag, first line of code, code) for every fenced block of a Markdown page, tag lower-cased."""
    blocks, lines, i = [], page.read_text().splitlines(), 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        end = next((j for j in range(i + 1, len(lines))
                    if lines[j].strip().startswith(fence[0] * len(fence)) and not lines[j].strip().strip(fence[0])),
                   len(lines))
        code = "\n".join(line[indent:] if not indent or line[:indent].isspace() else line.lstrip()
                         for line in lines[i + 1:end])
        blocks.append((opening["tag"].lower(), i + 2, code + "\n"))
        i = end + 1
    return blocks


def python_blocks(page: Path) -> list[tuple[int, str]]:
    return [(line, code) for tag, line, code in code_blocks(page) if tag in PYTHON_TAGS]


def name(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


PAGES_WITH_PYTHON = [page for page in PAGES if python_blocks(page)]


# -- what the reader already has ------------------------------------------------------------

def searched_iris_mlp(folder: Path) -> None:
    # export.md's examples follow its shell session `archscout search --task iris --space mlp --study
    # iris-mlp --trials 4`: the same study in ./archscout.db, trained for 30 steps instead of 1000
    import archscout as asc

    asc.Study("iris-mlp", task="iris", space="mlp", train={"steps": 30}).search(trials=4)


def graph_files(folder: Path) -> None:
    # graphs.md reads a graph of the reader's in the documented layout (data/cora/) and in files
    # named otherwise (e.tsv, x.npy, y.csv, parts.txt): 60 nodes of 3 classes in a ring
    nodes, rng = 60, np.random.default_rng(0)
    edges = [(i, (i + 1) % nodes) for i in range(nodes)]
    features, labels = rng.normal(size=(nodes, 5)), [["cat", "dog", "owl"][i % 3] for i in range(nodes)]
    parts = ["train"] * 36 + ["valid"] * 12 + ["test"] * 12
    cora = folder / "data" / "cora"
    cora.mkdir(parents=True)
    (cora / "edges.csv").write_text("source,target\n" + "".join(f"{a},{b}\n" for a, b in edges))
    np.save(cora / "features.npy", features)
    (cora / "labels.csv").write_text("label\n" + "\n".join(labels) + "\n")
    (folder / "e.tsv").write_text("".join(f"{a}\t{b}\n" for a, b in edges))
    np.save(folder / "x.npy", features)
    (folder / "y.csv").write_text("\n".join(labels) + "\n")
    (folder / "parts.txt").write_text("\n".join(parts) + "\n")


def benchmark_data(folder: Path) -> None:
    # training-free.md's examples are run from the repository's root: they read the ground-truth file
    # benchmarks/data/mnist1d-conv1d.jsonl by that relative path
    (folder / "benchmarks").mkdir()
    (folder / "benchmarks" / "data").symlink_to(ROOT / "benchmarks" / "data", target_is_directory=True)


SETUP = {
    "docs/export.md": searched_iris_mlp,
    "docs/graphs.md": graph_files,
    "docs/training-free.md": benchmark_data,
}

# -- budgets a test can afford (page -> [(as written, as run)]) -------------------------------

SHRINK = {
    # a half-hour search of MNIST-1D with 1,000 training steps per candidate and 3 x 3 retrainings
    # of 3,000 steps: 4 trials of 20 steps (retrainings 60), still on 2 workers, still retraining 3
    "docs/multiobjective.md": [
        ('measure=["accuracy@int8", "size_bytes@int8"])',
         'measure=["accuracy@int8", "size_bytes@int8"], train={"steps": 20})'),
        ('study.run(time_budget="30m", workers=2)', 'study.run(trials=4, workers=2)'),
    ],
    # 20 trials of the reader's loop (200 epochs) and 3 retrainings; 10 + 20 + 10 trained candidates of 300-500
    # steps with up to 3 x 3 retrainings: 2 trials each, 20-30 epochs or steps, one retraining
    "docs/own-problem.md": [
        ('"epochs", 200', '"epochs", 20'),
        ('study.run(trials=20, final_top_k=1)', 'study.run(trials=2, final_top_k=1, final_seeds=1)'),
        ('space="conv1d", train={"steps": 300})', 'space="conv1d", train={"steps": 30})'),
        ('study.run(trials=10, final_top_k=1)', 'study.run(trials=2, final_top_k=1, final_seeds=1)'),
        ('train={"steps": 500})', 'train={"steps": 50})'),
        ('study.run(trials=20, final_top_k=3)', 'study.run(trials=2, final_top_k=1, final_seeds=1)'),
        ('"steps": 300, "amp": True}', '"steps": 30, "amp": True}'),
        ('study.run(trials=10, device="auto", final_top_k=1)',
         'study.run(trials=2, device="auto", final_top_k=1, final_seeds=1)'),
    ],
    # 50 GNNs of 200 steps and 3 x 3 retrainings of 600: 2 GNNs of 20 steps, one retraining
    "docs/graphs.md": [
        ('train={"steps": 200}).run(trials=50)', 'train={"steps": 20}).run(trials=2, final_top_k=1, final_seeds=1)'),
    ],
}


def shrunk(page: str, code: str, line: int) -> str:
    for written, run in SHRINK.get(page, []):
        code = code.replace(written, run)
    # blank lines in front, so that a traceback gives the line of the Markdown page
    return "\n" * (line - 1) + code


# -- what the examples promise -------------------------------------------------------------------

def readme_checks(scope: dict, folder: Path) -> None:
    assert len(scope["study"].trials()) == 6
    assert scope["best"].final["seeds"] == 3
    assert (folder / "readme-model" / "model.onnx").exists()
    assert len(scope["df"]) == 6


def export_checks(scope: dict, folder: Path) -> None:
    assert {"model.onnx", "model.ts", "model.pt"} <= set(scope["info"]["files"])
    assert scope["arch"]["space"] == "mlp"
    assert not scope["model"].training


def graphs_checks(scope: dict, folder: Path) -> None:
    assert scope["task"].name == "random-graph"
    assert (folder / "archscout.db").exists()


def multiobjective_checks(scope: dict, folder: Path) -> None:
    study = scope["study"]
    assert len(study.trials()) == 4 and study.front() and study.fronts()


def reporting_checks(scope: dict, folder: Path) -> None:
    assert len(scope["df"]) == 12 and scope["fig"].axes
    assert (folder / "front.png").exists()


def training_free_checks(scope: dict, folder: Path) -> None:
    assert len(scope["scores"]) == len(scope["archs"])  # the second block's: proxies per architecture
    assert len(scope["mean"]) == len(scope["archs"]) - 50 and (scope["std"] >= 0).all()
    assert scope["header"]["task"] == "mnist1d"


def own_problem_checks(scope: dict, folder: Path) -> None:
    from archscout.metrics import METRICS
    assert METRICS["val_error"] == "min" and scope["best"].final["seeds"] == 1
    assert scope["task"].kind == "classification" and scope["task"].input_shape == (1, 64)
    study = scope["study"]
    assert study.train_config.amp and len(study.trials("complete")) == 2


CHECKS = {
    "docs/own-problem.md": own_problem_checks,
    "README.md": readme_checks,
    "docs/export.md": export_checks,
    "docs/graphs.md": graphs_checks,
    "docs/multiobjective.md": multiobjective_checks,
    "docs/reporting.md": reporting_checks,
    "docs/training-free.md": training_free_checks,
}


# -- the tests -------------------------------------------------------------------------------------

@pytest.fixture
def registries():
    """What the examples register (docs/extending.md adds an evaluator and a strategy) is removed after them,
    so other tests see only the built-ins."""
    from archscout.evaluate import EVALUATORS
    from archscout.evaluate.predictors import PREDICTORS
    from archscout.execute import EXECUTORS
    from archscout.space import SPACES
    from archscout.strategy import STRATEGIES
    from archscout.tasks import TASKS

    every = (EVALUATORS, PREDICTORS, EXECUTORS, SPACES, STRATEGIES, TASKS)
    before = {id(r): set(r.names()) for r in every}
    yield
    for r in every:
        for added in set(r.names()) - before[id(r)]:
            r.unregister(added)


@pytest.mark.parametrize("page", PAGES_WITH_PYTHON, ids=name)
@pytest.mark.slow
def test_the_python_examples_of_the_page_run(page, tmp_path, monkeypatch, registries):
    monkeypatch.chdir(tmp_path)
    SETUP.get(name(page), lambda folder: None)(tmp_path)
    scope: dict = {"__name__": "doc_example"}
    for line, code in python_blocks(page):
        exec(compile(shrunk(name(page), code, line), name(page), "exec"), scope)
    CHECKS.get(name(page), lambda scope, folder: None)(scope, tmp_path)


def test_the_pages_are_found():
    assert {"README.md", "docs/export.md", "docs/graphs.md", "docs/multiobjective.md",
            "docs/reporting.md", "docs/training-free.md"} <= {name(p) for p in PAGES_WITH_PYTHON}


def test_every_code_block_says_what_it_holds():
    untagged = [f"{name(page)}:{line - 1}" for page in PAGES for tag, line, _ in code_blocks(page) if not tag]
    assert not untagged, f"code blocks without a tag (```python, ```text, ```bash, ...): {untagged}"


def test_every_shrunk_budget_is_in_its_page():
    for page, pairs in SHRINK.items():
        code = "".join(code for _, code in python_blocks(ROOT / page))
        for written, run in pairs:
            assert code.count(written) == 1, f"{page} no longer holds {written!r}; update SHRINK"
            assert "\n" not in written + run  # a page's line numbers stay right in tracebacks


def test_setup_and_checks_name_pages_with_python():
    assert set(SETUP) | set(CHECKS) | set(SHRINK) <= {name(p) for p in PAGES_WITH_PYTHON}


def test_the_block_reader_finds_tagged_indented_and_tilde_fences(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("text\n```python\na = 1\n```\n\n- item\n\n  ```py\n  b = a\n  ```\n\n~~~bash\nls\n~~~\n```\nplain\n```\n")
    assert code_blocks(page) == [("python", 3, "a = 1\n"), ("py", 9, "b = a\n"), ("bash", 13, "ls\n"),
                                 ("", 16, "plain\n")]
    assert python_blocks(page) == [(3, "a = 1\n"), (9, "b = a\n")]
