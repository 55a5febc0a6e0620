"""The layering of docs/LAYOUT.md, read from the source: imports point down only, no module cycles,
streamlit only in costmodel/app, plotly/kaleido only in costmodel/viz and costmodel/app, and the CLI imports
only the subcommand that runs."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "costmodel"
# Lower number = lower layer. A module may import its own layer's modules and any lower layer's.
LAYERS = {"errors": 0, "units": 0, "engine": 1, "zoo": 2, "latency": 3, "sources": 4, "studies": 5, "viz": 6,
          "app": 7, "cli": 7}
FACADES = {"costmodel", "costmodel.__main__"}  # the package's public face may reach every layer
ONLY_IN = {"streamlit": {"app"}, "plotly": {"viz", "app"}, "kaleido": {"viz", "app"}, "choreographer": {"viz", "app"}}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside functions (a lazy import is still a dependency)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import module` imports the module; `from module import name` the module itself
            submodules = {f"{base}.{alias.name}" for alias in node.names} & MODULES
            found.update(submodules or {base})
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))
MODULES = {module_name(p) for p in SOURCES}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "costmodel" and parts[1] in LAYERS else None


def internal_edges() -> list[tuple[str, str]]:
    edges = []
    for path in SOURCES:
        for target in imports_of(path):
            if target in MODULES and target != module_name(path):
                edges.append((module_name(path), target))
    return edges


def test_every_module_sits_in_a_layer() -> None:
    loose = [m for m in MODULES if m not in FACADES and layer_of(m) is None]
    assert loose == [], f"modules outside every layer of docs/LAYOUT.md: {loose}"


def test_imports_point_down() -> None:
    upward = []
    for source, target in internal_edges():
        if source in FACADES or target == "costmodel":
            continue
        low, high = layer_of(target), layer_of(source)
        same_rank_other_layer = LAYERS[low] == LAYERS[high] and low != high and LAYERS[low] > 0
        if LAYERS[low] > LAYERS[high] or same_rank_other_layer:
            upward.append(f"{source} -> {target}")
    assert upward == [], "imports pointing up a layer:\n" + "\n".join(upward)


def test_no_module_imports_the_package_facade() -> None:
    """`from costmodel import X` inside the library would load the whole public API (and hide a cycle)."""
    offenders = [s for s, t in internal_edges() if t == "costmodel" and s not in FACADES]
    assert offenders == []


def test_no_import_cycles() -> None:
    graph = nx.DiGraph([(s, t) for s, t in internal_edges() if s not in FACADES and t not in FACADES])
    cycles = list(nx.simple_cycles(graph))
    assert cycles == [], f"import cycles: {cycles[:5]}"


@pytest.mark.parametrize("library", sorted(ONLY_IN))
def test_ui_libraries_stay_in_their_layers(library: str) -> None:
    offenders = sorted(module_name(p) for p in SOURCES if any(t.split(".")[0] == library for t in imports_of(p))
                       and layer_of(module_name(p)) not in ONLY_IN[library])
    assert offenders == [], f"{library} imported outside {sorted(ONLY_IN[library])}: {offenders}"


HEAVY = ("plotly", "kaleido", "streamlit", "scipy")
PROBE = """
import sys, io, contextlib
from costmodel.cli import main
for argv in {commands!r}:
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            main(argv)
        except SystemExit:
            pass
print(",".join(m for m in {heavy!r} if m in sys.modules))
"""


def test_cli_imports_only_what_a_subcommand_needs() -> None:
    commands = [["zoo"], ["analyze", "shufflenet_v2", "--json"], ["profile", "--help"], ["devices"]]
    probe = PROBE.format(commands=commands, heavy=HEAVY)
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "", f"loaded: {result.stdout.strip()}"
