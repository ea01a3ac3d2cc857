"""Imports go one way (docs/architecture.md): kernels import no other part of layerflow;
blobs, the runtime and devices import only kernels and each other; layers and data import
nothing above the Net; the Net imports no solver, tool or command. Checked on every import
statement, including those inside functions."""
import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "layerflow"

TOOLS = {"solvers", "cli", "timing", "gradcheck_cli", "draw", "plot", "device", "catalogue",
         "parallel", "io.onnx_export", "predict", "zoo"}
CORE = {"kernels", "blob", "runtime", "backends"}
RULES = [  # (modules checked, layerflow modules they may not import; ONLY(x): all but x)
    ("kernels", ("only", {"kernels"})),
    ("blob", ("only", CORE)),
    ("runtime", ("only", CORE)),
    ("backends", ("only", CORE)),
    ("layer", {"net"} | TOOLS),
    ("layers", {"net"} | TOOLS),
    ("data", {"net"} | TOOLS),
    ("net", TOOLS),
]


def _module_name(path):
    rel = path.relative_to(PKG).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(parts)


def _imports(path):
    """The layerflow modules `path` imports, relative to the package ('net', 'kernels.cpu')."""
    here = _module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
                if not node.module:
                    out += [".".join(base + [a.name]) for a in node.names]
                    continue
            elif node.module and node.module.startswith("layerflow"):
                target = node.module[len("layerflow."):] if "." in node.module else ""
            else:
                continue
            out.append(target)
            out += [f"{target}.{a.name}" if target else a.name for a in node.names]
        elif isinstance(node, ast.Import):
            out += [a.name[len("layerflow."):] for a in node.names
                    if a.name.startswith("layerflow.")]
    return out


def _matches(module, names):
    return any(module == n or module.startswith(n + ".") for n in names)


def _top_level():
    return {p.stem if p.suffix else p.name for p in PKG.iterdir()
            if p.name != "__pycache__" and not p.name.startswith(".")} - {"__init__"}


@pytest.mark.parametrize("scope, forbidden", RULES, ids=[r[0] for r in RULES])
def test_imports_point_down(scope, forbidden):
    if isinstance(forbidden, tuple):
        forbidden = _top_level() - forbidden[1]
    files = sorted((PKG / scope).rglob("*.py")) if (PKG / scope).is_dir() else \
        [PKG / f"{scope}.py"]
    assert files and all(f.exists() for f in files)
    bad = []
    for f in files:
        for target in _imports(f):
            if target and _matches(target, forbidden) and not _matches(target, [scope]):
                bad.append(f"{f.relative_to(PKG.parent)} imports layerflow.{target}")
    assert not bad, "\n".join(bad)


def test_the_checker_sees_imports():
    found = _imports(PKG / "net.py")
    assert "blob" in found and "kernels.cpu" in found and "runtime" in found
