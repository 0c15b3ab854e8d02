"""The seams new methods plug into: no import circle among the package's modules (imports inside functions
included), folders that import only the folders below them (LAYERS; the upward imports that remain are named with
their reasons), reports import plug-ins and never the reverse, imports at the top of every module but in the few
places distill/cli.py names, and a command's kind of job and cost are known without building the command line."""

from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "distill"


def _module(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """module -> the distill modules it imports anywhere in its file (top level or inside functions)."""
    files = {_module(p, root): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from distill.reports import pd` imports the module distill.reports.pd
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in files else node.module
                           for a in node.names]
            else:
                continue
            edges |= {t for t in targets if t in files and t != name}
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_circle_among_the_package_modules():
    assert cycles(import_graph()) == []


def test_the_circle_check_finds_a_circle(tmp_path):
    pkg = tmp_path / "distill"
    (pkg / "plugins").mkdir(parents=True)
    (pkg / "reports").mkdir()
    (pkg / "plugins" / "m.py").write_text("def f():\n    from distill.reports import m\n")
    (pkg / "reports" / "m.py").write_text("from distill.plugins.m import f\n")
    assert cycles(import_graph(pkg)) == [["distill.plugins.m", "distill.reports.m"]]


def test_plugins_never_import_their_reports():
    graph = import_graph()
    found = {m: sorted(t for t in graph[m] if t.startswith("distill.reports."))
             for m in graph if m.startswith("distill.plugins.")}
    assert {m: t for m, t in found.items() if t} == {}


def test_kinds_and_costs_are_known_without_building_the_command_line(monkeypatch):
    from distill.commands.index import every
    from distill.workflow.resources import job_kinds

    def refuse(*args, **kwargs):
        raise AssertionError("the command line was built")

    monkeypatch.setattr(argparse.ArgumentParser, "__init__", refuse)
    kinds = job_kinds()
    assert kinds["train-teacher"] == "teacher" and kinds["kd-train"] == "distill" and "table1" not in kinds
    assert every()["pd-round"].cost is not None and every()["pd-round"].data_parallel


@pytest.mark.parametrize("name", ["table1", "pd-report", "table2", "kd-report", "gpu-hours"])
def test_a_named_handler_resolves(name):
    from distill.commands.index import every

    assert callable(every()[name].resolve())


def test_the_workflow_checks_nothing_that_check_params_does_not():
    """`distill check-params` runs every check the workflow runs: a rule file never stops the workflow on a setting
    (the checks of params.yaml live in distill/config.py and each method's `check`, which the Snakefile runs through
    `load_params`). The Snakefile's own exits: that error, and a second live run."""
    for path in sorted((ROOT / "workflows").rglob("*.smk")):
        text = path.read_text()
        assert "sys.exit" not in text and "raise " not in text, f"{path.relative_to(ROOT)} checks a setting itself"
    exits = re.findall(r"sys\.exit\((.*)\)", (ROOT / "Snakefile").read_text())
    assert exits == ['f"error: {exc}"', 'f"error: {run_lock.refusal()}"'], exits


# The package's folders from the bottom up: a folder imports only folders below it (imports inside functions
# counted). A method's files sit in methods/ (math), plugins/ (card, layout, options), steps/ (its pipeline steps),
# claims/ and reports/.
LAYERS = ("errors", "core", "data", "nets", "metrics", "methods", "results", "registry", "experiment_views", "config",
          "bench", "commands", "plugins", "pipeline", "steps", "claims", "reports", "workflow", "handlers", "cli", "warm",
          "warm_server", "__main__", "distill")
# The imports that still run upwards, each with its reason; one that is fixed must leave this list, and a new one
# fails until it is fixed or named here. None is left: a command's handler lives above everything it runs.
KNOWN_UPWARD: dict[tuple[str, str], str] = {}


def folder_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "distill"


def upward_imports(graph: dict[str, set[str]]) -> dict[tuple[str, str], list[str]]:
    """(importing folder, imported folder) -> the module imports that run from a lower folder to a higher one."""
    out: dict[tuple[str, str], list[str]] = {}
    for a, targets in graph.items():
        for b in targets:
            fa, fb = folder_of(a), folder_of(b)
            if fa != fb and LAYERS.index(fa) < LAYERS.index(fb):
                out.setdefault((fa, fb), []).append(f"{a} -> {b}")
    return out


def test_every_folder_has_a_layer():
    assert {folder_of(m) for m in import_graph()} <= set(LAYERS)


def test_folders_import_downwards_but_for_the_named_exceptions():
    found = upward_imports(import_graph())
    new = {pair: found[pair] for pair in set(found) - set(KNOWN_UPWARD)}
    assert not new, f"imports from a lower folder to a higher one (LAYERS): {new}"
    fixed = set(KNOWN_UPWARD) - set(found)
    assert not fixed, f"no longer imported upwards: remove {sorted(fixed)} from KNOWN_UPWARD"


def test_the_folder_check_finds_an_upward_import():
    assert upward_imports({"distill.core.x": {"distill.plugins.y"}}) == {
        ("core", "plugins"): ["distill.core.x -> distill.plugins.y"]}


# The places that import inside a function or by name (distill/cli.py's docstring names them, with their reasons).
IMPORTS_IN_FUNCTIONS = {"distill/metrics/torchvision_fallback.py", "distill/warm.py"}
IMPORTS_BY_NAME = {"distill/commands/spec.py", "distill/registry.py", "distill/claims/registry.py",
                   "distill/reports/spread.py", "distill/nets/__init__.py", "distill/data/fetching.py"}


def test_modules_import_at_their_top_but_in_the_named_places():
    inside, by_name = set(), set()
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).as_posix()
        tree = ast.parse(path.read_text(), str(path))
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
                    isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(fn)):
                inside.add(rel)
        if "import_module(" in path.read_text():
            by_name.add(rel)
    assert inside <= IMPORTS_IN_FUNCTIONS, f"imports inside functions elsewhere: {inside - IMPORTS_IN_FUNCTIONS}"
    assert by_name <= IMPORTS_BY_NAME, f"imports by name outside the named places: {by_name - IMPORTS_BY_NAME}"
    cli = (PACKAGE / "cli.py").read_text()
    assert all(Path(p).name in cli for p in IMPORTS_IN_FUNCTIONS | IMPORTS_BY_NAME)  # the one comment names each


def test_the_command_line_starts_without_the_heavy_libraries():
    """Building every command's parser imports declarations only: no handler, report or metric library."""
    import subprocess
    import sys

    code = ("import sys; from distill.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('pandas', 'matplotlib', 'scipy', 'torch_fidelity', 'cleanfid', "
            "'distill.handlers.core', 'distill.reports.compare') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=PACKAGE.parent).stdout.strip()
    assert out == "[]", f"the command line's start-up imports {out}"
