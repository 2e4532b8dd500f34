"""docs/architecture.md's table of modules lists what the package contains and what each module imports.

The table is written once and must stay true: each module of the package has a row (its own or its
folder's), and the column "imports from netlite" names what the module's import statements name,
no more and no less. The statements are read with ``ast``, so imports inside functions count too.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "netlite"
TABLE_ROW = re.compile(r"^\| `([\w/.]+)` \| .* \| ([^|]+) \|$")


def table_rows():
    """Return {module or folder as written, e.g. 'layers/dense.py' or 'kernels/': its imports column}."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    rows = dict(match.groups() for match in map(TABLE_ROW.match, text.splitlines()) if match)
    assert len(rows) > 10, "docs/architecture.md: the table of modules was not found"
    return rows


def package_modules():
    """Return every module file of the package as a path relative to netlite/, without __init__ and __main__."""
    return sorted(
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if path.name not in ("__init__.py", "__main__.py")
    )


def imported_modules(relative_path):
    """Return the full names of the netlite modules that ``relative_path`` imports, e.g. {'netlite.layers.base'}."""
    path = PACKAGE / relative_path
    package = ["netlite"] + list(Path(relative_path).parent.parts)
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
                # "from . import seeding" names a module. "from .base import Layer" names a class.
                candidates = [f"{module}.{alias.name}" for alias in node.names] if node.module is None else [module]
            else:
                candidates = [node.module or ""]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        names.update(name for name in candidates if name == "netlite" or name.startswith("netlite."))
    return names


def row_for(module, rows):
    """Return the table's key for ``module``: its own row, or the row of the folder it is in."""
    if module in rows:
        return module
    folder = module.split("/")[0] + "/"
    return folder if folder in rows else None


def as_written(imported, module):
    """Return an imported module's name as the table writes it: relative to a shared folder, else to netlite."""
    parts = imported.split(".")[1:]
    folder = module.split("/")[:-1]
    if folder and parts[: len(folder)] == folder:
        parts = parts[len(folder) :]
    return ".".join(parts)


def documented_names(column):
    """Return the module names in an imports column: the words outside parentheses, and 'X only for' inside them."""
    names = set()
    for item in re.sub(r"\(([^)]*)\)", " ", column).split(","):
        word = item.strip().strip("`")
        if word and word != "nothing" and not word.startswith("nothing outside"):
            names.add(word)
    names.update(re.findall(r"\((\w+) only for", column))
    return names


def test_every_module_has_a_row():
    rows = table_rows()
    missing = [module for module in package_modules() if row_for(module, rows) is None]
    assert not missing, f"docs/architecture.md has no row for {missing}; add one to the table of modules"
    stale = [key for key in rows if not (PACKAGE / key).exists()]
    assert not stale, f"docs/architecture.md has rows for {stale}, which the package no longer has"


@pytest.mark.parametrize("module", package_modules())
def test_imports_column_is_true(module):
    rows = table_rows()
    key = row_for(module, rows)
    column = rows[key]
    actual = {as_written(name, module) for name in imported_modules(module)}
    if key.endswith("/"):  # a folder's row: "nothing outside `kernels/`"
        assert column.strip() == f"nothing outside `{key}`", f"{key}: expected the column to read 'nothing outside `{key}`'"
        outside = {name for name in imported_modules(module) if not name.startswith("netlite." + key.rstrip("/").replace("/", "."))}
        assert not outside, f"{module} imports {sorted(outside)}, but docs/architecture.md lists 'nothing outside {key}'"
        return
    documented = documented_names(column)
    # "layers" covers layers.base and layers.activations; "kernels" covers kernels.jit.
    uncovered = {name for name in actual if not any(name == doc or name.startswith(doc + ".") for doc in documented)}
    unused = {doc for doc in documented if not any(name == doc or name.startswith(doc + ".") for name in actual)}
    assert not uncovered, f"{module} imports {sorted(uncovered)}, which its row in docs/architecture.md does not name"
    assert not unused, f"docs/architecture.md lists {sorted(unused)} as imports of {module}, which it does not import"
