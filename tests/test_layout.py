"""The layout rules of the project's style guide (§3, "The layout today's code should grow into"), checked:
small files, short functions, thin pages, and nmt_core free of Streamlit.

* no file in studio/, pages/ or nmt_core/ (recursively) over 400 lines, no studio/ module over 250;
* pages/*.py and app.py at most 80 lines: a page reads like a description of the UI;
* no function over 60 lines (``end_lineno - lineno + 1``, decorators not counted) in studio/, pages/, app.py
  and nmt_core/; tests, bench/ and scripts/ are exempt;
* nothing under nmt_core imports streamlit, and ui_common.py (the old everything-helper) stays gone.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_FILE_LINES = 400
MAX_STUDIO_MODULE_LINES = 250
MAX_PAGE_LINES = 80
MAX_FUNCTION_LINES = 60


def lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def python_files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def pages() -> list[Path]:
    return [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]


def long_files(paths: list[Path], limit: int) -> list[str]:
    return [f"{p.relative_to(ROOT)}: {n} lines (limit {limit})" for p in paths if (n := lines(p)) > limit]


def long_functions(paths: list[Path], limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """Every function or method (nested ones included) longer than ``limit`` lines."""
    found = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                span = node.end_lineno - node.lineno + 1
                if span > limit:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}(): {span} lines (limit {limit})")
    return found


def report(what: str, violations: list[str]) -> str:
    return f"{what}:\n  " + "\n  ".join(violations)


# ------------------------------------------------------------------------------------------------ the app side
def test_ui_common_is_gone():
    assert not (ROOT / "ui_common.py").exists(), "ui_common.py is back: put helpers in a studio/ module"
    assert (ROOT / "studio" / "__init__.py").exists()


def test_pages_and_app_are_thin():
    violations = long_files(pages(), MAX_PAGE_LINES)
    assert not violations, report("pages over the page limit (move logic into studio/)", violations)


def test_studio_modules_are_small():
    violations = long_files(python_files("studio"), MAX_STUDIO_MODULE_LINES)
    assert not violations, report("studio/ modules over the module limit (split by job)", violations)


def test_app_side_files_within_the_file_limit():
    violations = long_files([*python_files("studio"), *python_files("pages")], MAX_FILE_LINES)
    assert not violations, report("files over the file limit", violations)


def test_app_side_functions_are_short():
    violations = long_functions([*python_files("studio"), *pages()])
    assert not violations, report("functions over the function limit", violations)


# ------------------------------------------------------------------------------------------------ nmt_core
def imports_of(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def test_nmt_core_never_imports_streamlit():
    offenders = [f"{p.relative_to(ROOT)}: {m}" for p in python_files("nmt_core") for m in sorted(imports_of(p))
                 if m == "streamlit" or m.startswith("streamlit.")]
    assert not offenders, report("nmt_core must not import streamlit", offenders)


def check_nmt_core(what: str, violations: list[str]) -> None:
    assert not violations, report(what, violations)


def test_nmt_core_files_within_the_file_limit():
    check_nmt_core("nmt_core files over the file limit", long_files(python_files("nmt_core"), MAX_FILE_LINES))


def test_nmt_core_functions_are_short():
    check_nmt_core("nmt_core functions over the function limit", long_functions(python_files("nmt_core")))
