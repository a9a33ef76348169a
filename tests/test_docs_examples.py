"""The Python examples in README.md and docs/*.md run, so that they cannot drift from the code.

Every ```python block of a file runs, in the order of the file, in one namespace per file (as
a reader would type them one after another into one session)."""
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def python_blocks(path):
    """(line number, code) of every ```python block of a Markdown file."""
    text = path.read_text()
    return [(text[:m.start()].count("\n") + 1, m.group(1)) for m in BLOCK.finditer(text)]


def test_the_readme_has_examples():
    assert len(python_blocks(ROOT / "README.md")) >= 3


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_examples_run(path, monkeypatch):
    monkeypatch.chdir(ROOT)
    namespace = {"__name__": f"example:{path.name}"}
    for line, code in python_blocks(path):
        try:
            exec(compile(code, f"{path.name}:{line}", "exec"), namespace)
        except Exception as error:
            raise AssertionError(f"the example at {path.relative_to(ROOT)}:{line} fails: "
                                 f"{type(error).__name__}: {error}") from error
