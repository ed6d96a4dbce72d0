"""The package's plan, checked: sub-packages in layers, imports only downwards, no import circle,
small modules, the dependency graph visible at the top of each module (docs/architecture.md)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "pcutlib"

# Lowest first, as docs/architecture.md draws them. A module may import from its own sub-package and from lower layers, never upwards,
# never from a sibling of its own layer (models and data know nothing of each other).
LAYERS = [
    ["pcutlib.paths", "pcutlib.coordinates", "pcutlib.yaml_files", "pcutlib.config", "pcutlib.config_rules"],
    ["pcutlib.models", "pcutlib.data", "pcutlib.prioritycut"],
    ["pcutlib.checkpoints"],
    ["pcutlib.inference"],
    ["pcutlib.training"],
    ["pcutlib.evaluation"],
    ["pcutlib.experiments"],
    ["pcutlib.teaching"],
    ["pcutlib.cli"],
]
# within layer 0: config asks paths where files are, reads them with yaml_files, checks them with config_rules
SIDEWAYS = {("pcutlib.config", "pcutlib.paths"), ("pcutlib.config", "pcutlib.yaml_files"), ("pcutlib.config", "pcutlib.config_rules")}
MAX_LINES = 500
# imports that stay inside functions: packages that are optional or slow to import for a reason
OPTIONAL_IMPORTS = ("ipywidgets", "IPython", "lpips", "face_alignment", "torch.utils.tensorboard")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def area(module: str) -> str:
    """The layer entry a module belongs to: its sub-package, or itself at the top level."""
    return next(entry for layer in LAYERS for entry in layer if module == entry or module.startswith(entry + "."))


def layer_of(module: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if area(module) in layer)


def imports_of(path: Path) -> set[str]:
    """The pcutlib modules ``path`` imports at run time (imports under ``if TYPE_CHECKING`` left out)."""
    tree = ast.parse(path.read_text())
    type_only = {id(node) for stmt in ast.walk(tree) if isinstance(stmt, ast.If)
                 and "TYPE_CHECKING" in ast.unparse(stmt.test) for node in ast.walk(stmt)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "pcutlib":
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in MODULES else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "pcutlib")
    return found - {module_name(path)}


GRAPH = {module: imports_of(path) for module, path in MODULES.items() if module != "pcutlib"}


def test_every_module_has_a_layer():
    for module in GRAPH:
        assert any(module == e or module.startswith(e + ".") for layer in LAYERS for e in layer), module


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_only_go_down(module):
    wrong = []
    for target in GRAPH[module]:
        same_area = area(target) == area(module)
        if not same_area and layer_of(target) >= layer_of(module) and (module, target) not in SIDEWAYS:
            wrong.append(f"{target} (layer {layer_of(target)}: {area(target)})")
    assert not wrong, f"{module} (layer {layer_of(module)}: {area(module)}) imports upwards or sideways: {wrong}"


def test_no_import_circle():
    state, path = {}, []

    def visit(module):
        state[module] = "open"
        path.append(module)
        for target in sorted(GRAPH.get(module, ())):
            if state.get(target) == "open":
                raise AssertionError("import circle: " + " -> ".join(path[path.index(target):] + [target]))
            if target in GRAPH and target not in state:
                visit(target)
        path.pop()
        state[module] = "done"

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)


def test_modules_are_small():
    sizes = {module: len(path.read_text().splitlines()) for module, path in MODULES.items()}
    assert max(sizes.values()) <= MAX_LINES, sorted(sizes.items(), key=lambda item: -item[1])[:3]


def test_the_dependency_graph_is_at_the_top_of_each_module():
    """No import hides inside a function, except optional packages (OPTIONAL_IMPORTS)."""
    hidden = []
    for module, path in MODULES.items():
        for function in ast.walk(ast.parse(path.read_text())):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(function):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    text = ast.unparse(node)
                    if not any(re.search(rf"\b{re.escape(name)}\b", text) for name in OPTIONAL_IMPORTS):
                        hidden.append(f"{module}.{function.name}: {text}")
    assert not hidden, hidden


def test_the_package_cites_only_what_its_readers_have():
    """Docstrings and comments point to files of the repository (docs/, results/), never to notes
    outside it or to issue numbers."""
    outside = re.compile(r"DESIGN\.md|\bissue\s+#?\d+", re.IGNORECASE)
    found = [f"{path.relative_to(REPO)}:{number}: {line.strip()}"
             for path in [*MODULES.values(), *sorted((REPO / "tests").glob("*.py")), *sorted((REPO / "tools").glob("*.py"))]
             if path.name != "test_architecture.py"
             for number, line in enumerate(path.read_text().splitlines(), 1) if outside.search(line)]
    assert not found, found
    for link in re.findall(r"docs/[\w./-]+\.md", "\n".join(p.read_text() for p in MODULES.values())):
        assert (REPO / link).is_file(), f"pcutlib cites {link}, which does not exist"
