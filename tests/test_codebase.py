"""The house rules of the code base (issue 10), checked on every run: the linters and the
type checker pass, and the floor plan holds (stages import only from the stages above them,
no import cycle, SQL only in tracker/store, exceptions in tracker/errors.py)."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tracker"

# Each stage and what it may import from the package (besides itself). Data flows one way:
# text -> store (history reads it back) -> fetch -> digest -> daemon, web -> cli.
BASE = {"tracker", "tracker.errors", "config", "tracker.model"}
ALLOWED = {
    "text": {"tracker.errors", "tracker.model"},
    "store": BASE | {"text"},
    "history": BASE | {"text", "store"},
    "fetch": BASE | {"text", "store", "history"},
    "digest": BASE | {"text", "store", "history"},
    "daemon": BASE | {"text", "store", "history", "fetch", "digest"},
    "web": BASE | {"text", "store", "history", "digest"},
    "cli": BASE | {"text", "store", "history", "fetch", "digest", "daemon", "web"},
}
# Exceptions that must subclass another library's (requests' machinery raises and catches
# them): the only ones outside tracker/errors.py.
EXCEPTIONS_ELSEWHERE = {"tracker.fetch.transport": {"ReplyTooLarge", "RequestDeadline"}}
SQL = re.compile(
    r"\b(SELECT|INSERT|UPDATE|DELETE FROM|CREATE (TABLE|INDEX|VIRTUAL TABLE)|PRAGMA)\b"
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _modules() -> dict[str, ast.Module]:
    return {
        _module_name(path): ast.parse(path.read_text(encoding="utf-8"))
        for path in PACKAGE.rglob("*.py")
    }


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _runtime_imports(module: str) -> set[str]:
    """The package's modules `module` imports when it runs (not under TYPE_CHECKING)."""
    tree, modules = _modules()[module], _modules()
    guarded = {
        id(node)
        for branch in ast.walk(tree)
        if isinstance(branch, ast.If) and "TYPE_CHECKING" in ast.unparse(branch.test)
        for statement in branch.body
        for node in ast.walk(statement)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in guarded:
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if full in modules:
                    found.add(full)
                elif node.module in modules:
                    found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in modules}
    return found - {module}


def _allowed(module: str, target: str) -> bool:
    stage, target_stage = _stage(module), _stage(target)
    if stage not in ALLOWED or stage == target_stage:
        return True  # top-level modules (config, errors, model...) are checked by the cycle test
    return target in ALLOWED[stage] or target_stage in ALLOWED[stage]


def test_stages_import_only_from_the_stages_above() -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module in _modules()
        for target in _runtime_imports(module)
        if not _allowed(module, target)
    )
    assert wrong == []


def test_no_import_cycles() -> None:
    graph = {module: _runtime_imports(module) for module in _modules()}
    cycles = []
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    assert cycles == []


def test_sql_only_in_the_store() -> None:
    found = sorted(
        f"{module}:{node.lineno}"
        for module, tree in _modules().items()
        if not module.startswith("tracker.store")
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value)
    )
    assert found == []


def test_exceptions_in_errors_py() -> None:
    errors = _modules()["tracker.errors"]
    known = {node.name for node in ast.walk(errors) if isinstance(node, ast.ClassDef)}
    known |= {"Exception", "BaseException"} | {"RequestException", "Timeout"}
    elsewhere = sorted(
        f"{module}.{node.name}"
        for module, tree in _modules().items()
        if module != "tracker.errors"
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and any(ast.unparse(base).split(".")[-1] in known for base in node.bases)
        and node.name not in EXCEPTIONS_ELSEWHERE.get(module, ())
    )
    assert elsewhere == []


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return path


def test_ruff_check() -> None:
    done = _run(_tool("ruff"), "check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_format() -> None:
    done = _run(_tool("ruff"), "format", "--check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy() -> None:
    done = _run(_tool("mypy"), "tracker")
    assert done.returncode == 0, done.stdout + done.stderr
