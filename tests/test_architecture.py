"""docs/architecture.md's table of modules lists what the package contains and what each module imports.

The table is written once and must stay true: each module of the package has a row (its own or its
folder's), and the column "imports from netlite" names what the module's import statements name,
no more and no less. The statements are read with ``ast``, so imports inside functions count too.
"""

import ast
import functools
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "netlite"
# A name in backticks in the contents column: `ReLU`, `Optimizer.step`, `seed(n)`, `convolution.py`.
CONTENTS_NAME = re.compile(r"`([A-Za-z_][\w.]*)(?:\([^`]*\))?`")


def table_lines():
    """Return (module or folder as written, such as 'layers/dense.py' or 'kernels/', contents, imports) of each row."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    lines = []
    for line in text.splitlines():  # Markdown allows padded cells and leaving out the outer pipes
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and re.fullmatch(r"`[\w/.]+`", cells[0]):
            lines.append((cells[0].strip("`"), cells[1], cells[2]))
    assert len(lines) > 10, "docs/architecture.md: the table of modules was not found"
    return lines


def table_rows():
    """Return {module or folder as written: its imports column}."""
    return {key: imports for key, _, imports in table_lines()}


def package_modules():
    """Return every module file of the package as a path relative to netlite/, without __init__ and __main__."""
    return sorted(path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py") if path.name != "__init__.py")


def is_module(name):
    """Return True if ``name``, such as 'netlite.layers.base' or 'netlite.kernels', is one of netlite's modules."""
    path = PACKAGE.joinpath(*name.split(".")[1:])
    return path.with_suffix(".py").is_file() or path.is_dir()


def imported_modules(relative_path):
    """Return the full names of the netlite modules that ``relative_path`` imports, e.g. {'netlite.layers.base'}.

    ``from netlite import seeding`` imports the module seeding, and ``from netlite import train`` the
    package itself, 'netlite'. A call of importlib.import_module or __import__ with a string counts too.
    """
    path = PACKAGE / relative_path
    package = ["netlite"] + list(Path(relative_path).parent.parts)
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # "from . import seeding" names a module. "from .base import Layer" names a class.
            candidates = [
                f"{module}.{alias.name}" if is_module(f"{module}.{alias.name}") else module for alias in node.names
            ]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif called_name(node) in ("import_module", "__import__") and node.args:
            name = node.args[0].value if isinstance(node.args[0], ast.Constant) else None
            package_name = node.args[1].value if len(node.args) > 1 and isinstance(node.args[1], ast.Constant) else None
            assert isinstance(name, str), (
                f"netlite/{relative_path}, line {node.lineno}: {called_name(node)} gets a module name computed at run "
                f"time; write it as a string, so that docs/architecture.md can be checked against it"
            )
            candidates = [importlib.util.resolve_name(name, package_name) if name.startswith(".") else name]
        else:
            continue
        names.update(name for name in candidates if isinstance(name, str) and name.split(".")[0] == "netlite")
    return names


def called_name(node):
    """Return the name that a call node calls, such as 'import_module' for importlib.import_module(...), else None."""
    if not isinstance(node, ast.Call):
        return None
    return getattr(node.func, "attr", getattr(node.func, "id", None))


def row_for(module, rows):
    """Return the table's key for ``module``: its own row, or the row of the folder it is in."""
    if module in rows:
        return module
    folder = module.split("/")[0] + "/"
    return folder if folder in rows else None


def as_written(imported, module):
    """Return an imported module's name as the table writes it: relative to a shared folder, else to netlite."""
    if imported == "netlite":
        return "netlite"  # the package itself, which imports all of it
    parts = imported.split(".")[1:]
    folder = module.split("/")[:-1]
    if folder and parts[: len(folder)] == folder and len(parts) > len(folder):  # its own package keeps its name
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


def test_rows_are_unique():
    keys = [key for key, _, _ in table_lines()]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    assert not repeated, f"docs/architecture.md has more than one row for {repeated}; keep one"


@pytest.mark.parametrize("folder", sorted(path.parent.name for path in PACKAGE.glob("*/__init__.py")))
def test_subpackage_init_imports_only_its_folder(folder):
    outside = {name for name in imported_modules(f"{folder}/__init__.py") if not name.startswith(f"netlite.{folder}.")}
    assert not outside, f"netlite/{folder}/__init__.py imports {sorted(outside)}; a folder's __init__ gathers only its own modules"


@functools.cache
def package_trees():
    """Return {path: parsed module} for every module of the package, parsed once for all tests."""
    return {path: ast.parse(path.read_text(), str(path)) for path in PACKAGE.rglob("*.py")}


def defined_names(body):
    """Return the names that a module's or a class's body defines: functions, classes and assigned names."""
    names = {node.name for node in body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    for node in body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(target.id for target in targets if isinstance(target, ast.Name))
    return names


def is_defined(dotted_name, body):
    """Return True if ``body`` defines ``dotted_name``, such as 'ReLU' or 'Optimizer.step' (a class and its method)."""
    first, _, rest = dotted_name.partition(".")
    if first not in defined_names(body):
        return False
    if not rest:
        return True
    classes = [node for node in body if isinstance(node, ast.ClassDef) and node.name == first]
    return any(is_defined(rest, cls.body) for cls in classes)


@pytest.mark.parametrize("key", [key for key, _, _ in table_lines()])
def test_contents_column_is_true(key):
    contents = next(contents for row_key, contents, _ in table_lines() if row_key == key)
    named = CONTENTS_NAME.findall(contents)
    if key.endswith("/"):  # a folder's row names its files, such as `convolution.py`
        missing = [name for name in named if name.endswith(".py") and not (PACKAGE / key / name).is_file()]
        assert not missing, f"docs/architecture.md names {missing} in {key}, which has no such file"
        return
    body = package_trees()[PACKAGE / key].body
    missing = [name for name in named if not is_defined(name, body)]
    assert not missing, f"docs/architecture.md lists {missing} as contents of {key}, which does not define them"


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
