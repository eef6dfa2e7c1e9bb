"""The package's rooms and the one direction data walks between them (docs/architecture.md):
a module imports only modules of its own room or of rooms listed above it, at the top of the
file or inside a function alike."""

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "openhmr"
DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


def room_levels() -> dict[str, int]:
    """Room name -> its line in the doc's ``rooms`` block (rooms on one line are peers)."""
    block = re.search(r"```rooms\n(.*?)```", DOC.read_text(), re.S).group(1)
    lines = [line.split("#")[0].split() for line in block.splitlines()]
    return {room: level for level, names in enumerate(n for n in lines if n) for room in names}


def room_of(module: str) -> str:
    """``openhmr.fit.targets`` -> ``fit``; top-level modules are rooms of their own."""
    return module.split(".")[1]


def project_imports(path: Path):
    """(line, imported module) for every ``openhmr`` import in the file, nested ones too."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # ``from openhmr import x``: a room when x is one (a name like __version__ is the root's)
            names = [node.module] if node.module != "openhmr" else [f"openhmr.{a.name}" for a in node.names if not a.name.startswith("__")]
        else:
            continue
        for name in names:
            if name.startswith("openhmr."):
                yield node.lineno, name


def test_every_room_is_described():
    levels = room_levels()
    rooms = {p.stem for p in PACKAGE.glob("*.py")} | {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert rooms - {"__init__", "__main__"} == set(levels), "docs/architecture.md must list every room once"


def test_imports_run_from_lower_rooms_to_higher_only():
    levels = room_levels()
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[0] in ("__init__", "__main__"):
            continue  # the package's front door may name any room
        here = parts[0]
        for line, name in project_imports(path):
            there = room_of(name)
            if there != here and levels[there] >= levels[here]:
                wrong.append(f"{path.relative_to(PACKAGE)}:{line} ({here}) imports {name} ({there})")
    assert not wrong, "imports against the room order of docs/architecture.md:\n" + "\n".join(wrong)


def test_the_check_sees_a_nested_import_against_the_order(tmp_path):
    """The walk finds imports inside functions, where a layer is easiest to dodge."""
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from openhmr.predict.predictor import Model\n")
    assert list(project_imports(sample)) == [(2, "openhmr.predict.predictor")]
