"""The layout promises of the README's design notes: short modules, each with its docstring, no import dodging a
cycle inside a function, and a path of one sample that reads in at most 8 files of about the stated length."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "writing_rl"
MAX_MODULE_LINES = 300


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_module_is_short_and_says_its_job() -> None:
    long = {str(p.relative_to(PACKAGE)): n for p in _modules() if (n := len(p.read_text().splitlines())) >
            MAX_MODULE_LINES}
    assert long == {}, f"modules over {MAX_MODULE_LINES} lines: {long}"
    undocumented = [str(p.relative_to(PACKAGE)) for p in _modules() if not ast.get_docstring(ast.parse(p.read_text()))]
    assert undocumented == []


def test_no_function_imports_the_package_itself() -> None:
    found = set()
    for p in _modules():
        for fn in ast.walk(ast.parse(p.read_text())):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                own = (isinstance(node, ast.ImportFrom) and (node.level > 0 or (node.module or "").startswith(
                    "writing_rl"))) or (isinstance(node, ast.Import) and any(
                        a.name.startswith("writing_rl") for a in node.names))
                if own:
                    found.add((str(p.relative_to(PACKAGE)), fn.name))
    assert found == set(), f"imports inside functions: {sorted(found)}"


def test_the_path_of_one_sample_is_listed_in_at_most_8_files_of_the_stated_length() -> None:
    readme = (ROOT / "README.md").read_text()
    notes = readme.split("## Design notes: the path of one sample", 1)[1].split("\n## ", 1)[0]
    files = re.findall(r"^\d+\. `(writing_rl/[\w/]+\.py)`", notes, flags=re.MULTILINE)
    assert 1 <= len(files) <= 8 and len(set(files)) == len(files)
    total = sum(len((ROOT / f).read_text().splitlines()) for f in files)
    stated = int(re.search(r"Together about ([\d,]+) lines", notes).group(1).replace(",", ""))
    assert abs(total - stated) <= 0.03 * stated, f"the README says about {stated} lines; the files hold {total}"
    assert total <= 1300
