"""The README's Quickstart. Its Python example (and every other one in the docs) is run by
tests/test_docs_examples.py."""
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_quickstart_has_the_two_commands():
    text = README.read_text()
    quick = text.split("## Quickstart", 1)[1].split("##", 1)[0]
    assert "make demo" in quick and "make test" in quick
