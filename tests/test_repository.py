"""Properties of the repository as a whole that a reader relies on."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_no_script_edits_sys_path():
    """The repository is installed (requirements.txt: -e .): scripts import it like any package."""
    offenders = [str(p.relative_to(ROOT)) for folder in ("minigrad", "layers", "n3net", "train", "bench",
                                                        "experiments", "models", "tests")
                 for p in (ROOT / folder).rglob("*.py")
                 if re.search(r"sys\.path\.(insert|append)", p.read_text())]
    assert offenders == []


def test_the_readme_is_for_users():
    """At most 250 lines, the test command first among the pytest lines (CI runs it)."""
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 250
    commands = [line for line in lines if line.startswith("    $ ") and "pytest" in line]
    assert commands[0].endswith("-m pytest -q")
