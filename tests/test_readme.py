"""The README's Python example runs as written (in a temporary folder)."""
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "the README has no Python example"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    study = namespace["study"]
    assert len(study.trials()) == 6
    assert (tmp_path / "readme-model" / "model.onnx").exists()
    assert namespace["best"].final["seeds"] == 3


def test_quickstart_has_the_two_commands():
    text = README.read_text()
    quick = text.split("## Quickstart", 1)[1].split("##", 1)[0]
    assert "make demo" in quick and "make test" in quick
