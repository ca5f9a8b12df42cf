"""The README's Quickstart, its tables, and the links of every page. Its Python example (and every other
one in the docs) is run by tests/docs/test_docs_examples.py."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def section(text: str, heading: str) -> str:
    return text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]


def table_rows(text: str) -> list[list[str]]:
    """The cells of a Markdown table's body rows (header and separator left out)."""
    rows = [line for line in text.splitlines() if line.startswith("|")][2:]
    return [[cell.strip() for cell in row.strip().strip("|").split(" | ")] for row in rows]


def outside_code(text: str) -> str:
    kept, fence = [], False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
        elif not fence:
            kept.append(line)
    return "\n".join(kept)


def anchors(page: Path) -> set[str]:
    """GitHub's ids of a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    ids, seen = set(), {}
    for line in outside_code(page.read_text()).splitlines():
        if re.match(r"#{1,6} ", line):
            slug = re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
            seen[slug] = seen.get(slug, -1) + 1
            ids.add(f"{slug}-{seen[slug]}" if seen[slug] else slug)  # a repeated heading gets -1, -2, ...
    return ids


def test_quickstart_has_the_two_commands():
    text = README.read_text()
    quick = text.split("## Quickstart", 1)[1].split("##", 1)[0]
    assert "make demo" in quick and "make test" in quick


def test_quickstart_starts_with_a_first_command_and_the_path():
    quick = section(README.read_text(), "Quickstart")
    first = quick.split("```bash\n", 1)[1].split("```", 1)[0]
    assert "make venv" in first and "source .venv/bin/activate" in first
    assert "archscout search --task iris --time-budget 1m" in first and "--strategy" not in first  # the default
    assert quick.index("archscout search") < quick.index("make demo")
    assert "pip install -e ." in quick


def test_what_it_does_today_is_one_short_line_per_row_with_its_page():
    rows = table_rows(section(README.read_text(), "What it does today"))
    assert len(rows) >= 10
    for part, what in rows:
        words = len(re.sub(r"\]\([^)]*\)", "]", what).split())
        assert words <= 25, f"{part}: {words} words"
        assert "](docs/" in what, f"{part}: no link to the page that explains it"


def test_every_benchmark_page_is_listed_and_the_readme_table_links_them():
    index = (ROOT / "docs" / "benchmarks" / "index.md").read_text()
    pages = {p.name for p in (ROOT / "docs" / "benchmarks").glob("*.md")} - {"index.md"}
    assert pages and all(f"]({name})" in index for name in pages), "docs/benchmarks/index.md misses a page"
    assert not (ROOT / "docs" / "benchmarks.md").exists()
    for row in table_rows(section(README.read_text(), "Benchmarks")):
        assert len(row) == 4 and "](docs/benchmarks/" in row[0], row


def test_relative_links_and_anchors_resolve():
    broken = []
    for page in PAGES:
        for target in LINK.findall(outside_code(page.read_text())):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):
                continue  # https:, mailto:
            file, _, anchor = target.partition("#")
            dest = (page.parent / file).resolve() if file else page
            if not dest.exists() or (anchor and dest.suffix == ".md" and anchor not in anchors(dest)):
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert not broken, f"links that lead nowhere: {broken}"
