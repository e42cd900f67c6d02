"""The house rules of docs/architecture.md, measured on the code as it is: no import cycle among
the project's own modules (an import inside a function counts as much as one at the top), no module
over 600 lines, no package folder of more than twenty modules (providers/ aside, and tests/providers/
that mirrors it: one module per provider is their point), and each module says what it is for in its
first line."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("compare", "providers", "config", "bench")
MAX_LINES = 600
MAX_MODULES = 20
# Generated history: a Django migration is written once by makemigrations (or by hand, once) and
# never read to learn the code; its folder grows with the schema's age, not with the design.
GENERATED = "migrations"


def project_files(roots=PACKAGES):
    for package in roots:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "__pycache__" not in path.parts:
                yield path


def module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph():
    """Every module -> the project modules it imports, wherever the import statement stands."""
    modules = {module_name(p): p for p in project_files()}
    graph = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    here = name.split(".") if is_package else name.split(".")[:-1]
                    here = here[: len(here) - (node.level - 1)]
                    base = ".".join(here + ([base] if base else []))
                # `from package import module` imports the module; `from module import name`, the module
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            else:
                continue
            for target in targets:
                while target and target not in modules:  # `import a.b.c` where a.b.c is a name in a.b
                    target = target.rpartition(".")[0]
                if target and target != name:
                    edges.add(target)
        graph[name] = edges
    return graph


def cycles(graph):
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_imports_at_every_level():
    """The measure itself: a function-level import and a relative one are edges too."""
    graph = import_graph()
    assert "compare.models" in graph["compare.views"]
    assert "compare.teams.signals" in graph["compare.teams.apps"]  # imported inside ready()
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_among_the_projects_modules():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(group) for group in found)


def test_no_module_is_over_600_lines():
    long = {str(p.relative_to(ROOT)): n for p in project_files()
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


@pytest.mark.parametrize("root", PACKAGES + ("tests",))
def test_no_package_folder_holds_more_than_twenty_modules(root):
    crowded = {}
    for folder in [ROOT / root, *sorted(p for p in (ROOT / root).rglob("*") if p.is_dir())]:
        if folder.name in (GENERATED, "__pycache__") or folder in (ROOT / "providers", ROOT / "tests" / "providers"):
            continue
        count = len([p for p in folder.glob("*.py") if p.name != "__init__.py"])
        if count > MAX_MODULES:
            crowded[str(folder.relative_to(ROOT))] = count
    assert not crowded, f"folders of more than {MAX_MODULES} modules: {crowded}"


def test_each_module_states_its_job_in_its_first_line():
    silent = []
    for path in project_files(("compare", "providers", "config")):
        if GENERATED in path.parts:
            continue
        tree = ast.parse(path.read_text())
        if tree.body and not ast.get_docstring(tree):
            silent.append(str(path.relative_to(ROOT)))
    assert not silent, f"modules without a docstring saying their job: {silent}"
