"""The docs name only what exists: every project path (compare/..., providers/..., tests/...,
bench/..., templates/..., config/..., static/..., docs/...), every test named as file::test, and
every dotted name of a project module (compare.teams.middleware.TeamMiddleware) in README.md,
BENCHMARKS.md and docs/*.md is in the tree, so a file that moves takes its mentions with it."""

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "BENCHMARKS.md", *sorted((ROOT / "docs").glob("*.md"))]
ROOTS = ("compare", "providers", "tests", "bench", "templates", "config", "static", "docs")
MODULE_ROOTS = ("compare", "providers", "config", "bench")
# A path starts at a project folder, not inside a URL or another path (no / or . or word before it);
# a placeholder segment (templates/<app>/) ends it.
PATH = re.compile(rf"(?<![\w/.-])((?:{'|'.join(ROOTS)})/[\w./-]*)")
NAMED_TEST = re.compile(r"(?<![\w/.-])((?:tests|bench)/[\w./-]*\.py(?:::\w+)+)")
DOTTED = re.compile(rf"(?<![\w/.-])((?:{'|'.join(MODULE_ROOTS)})(?:\.[A-Za-z_]\w*)+)")
# compare.example.com is a host name, providers.md a file name: not module paths.
NOT_A_NAME = {"com", "org", "net", "md", "py", "json", "html"}


def mentions(pattern, doc):
    for number, line in enumerate(doc.read_text().splitlines(), 1):
        for match in pattern.finditer(line):
            yield number, match.group(1).rstrip(".")


@cache
def top_level_names(path):
    """The names a module defines at its top: functions, classes, assignments and imports; for each
    class, the names its body defines."""
    names = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names[node.name] = set()
        elif isinstance(node, ast.ClassDef):
            names[node.name] = {n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                          ast.ClassDef))}
            names[node.name] |= {t.id for n in node.body if isinstance(n, ast.Assign) for t in n.targets
                                 if isinstance(t, ast.Name)}
            names[node.name] |= {n.target.id for n in node.body if isinstance(n, ast.AnnAssign)
                                 and isinstance(n.target, ast.Name)}
        elif isinstance(node, ast.Assign):
            names.update({t.id: set() for t in node.targets if isinstance(t, ast.Name)})
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = set()
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update({(a.asname or a.name).split(".")[0]: set() for a in node.names})
    return names


def resolves(dotted):
    """True when the longest module prefix of ``dotted`` exists and what follows it is a name that
    module defines (and, after a class, a name the class defines)."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:end])
        module = base.with_suffix(".py") if base.with_suffix(".py").exists() else base / "__init__.py"
        if module.exists():
            rest = parts[end:]
            if not rest:
                return True
            names = top_level_names(module)
            if rest[0] not in names:
                return False
            return len(rest) == 1 or (len(rest) == 2 and (not names[rest[0]] or rest[1] in names[rest[0]]))
    return False


def test_the_measure_sees_paths_and_names():
    """The measure itself: a moved file and a renamed module are caught, a real one passes."""
    assert (ROOT / "compare/engine/execution.py").exists() and not (ROOT / "compare/execution.py").exists()
    line = "see compare/execution.py, https://example.com/compare/x.py and `templates/<app>/`"
    assert [m.group(1) for m in PATH.finditer(line)] == ["compare/execution.py", "templates/"]
    assert resolves("compare.engine.execution.execute_result")
    assert resolves("compare.models.Result.finish")
    assert not resolves("compare.routes")
    assert not resolves("compare.engine.execution.no_such_function")
    named = "see `tests/compare/engine/test_execute.py::test_an_image_of_another_size_is_kept_and_flagged`"
    assert [m.group(1) for m in NAMED_TEST.finditer(named)] == [named[5:-1]]


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.name)
def test_every_path_a_doc_names_exists(doc):
    missing = [f"{doc.name}:{number}: {path}" for number, path in mentions(PATH, doc)
               if not (ROOT / path).exists()]
    assert not missing, "paths that do not exist:\n" + "\n".join(missing)


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.name)
def test_every_dotted_module_name_a_doc_names_exists(doc):
    missing = [f"{doc.name}:{number}: {name}" for number, name in mentions(DOTTED, doc)
               if name.rsplit(".", 1)[-1] not in NOT_A_NAME and not resolves(name)]
    assert not missing, "dotted names that do not resolve:\n" + "\n".join(missing)


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.name)
def test_every_test_a_doc_names_is_defined_in_its_file(doc):
    missing = []
    for number, named in mentions(NAMED_TEST, doc):
        path, *names = named.split("::")
        source = (ROOT / path).read_text() if (ROOT / path).exists() else ""
        if not all(re.search(rf"^\s*(?:async )?(?:def|class) {name}\b", source, re.M) for name in names):
            missing.append(f"{doc.name}:{number}: {named}")
    assert not missing, "tests that are not where a doc says:\n" + "\n".join(missing)
