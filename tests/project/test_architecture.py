"""The import rules of docs/architecture.md, checked on the source: which part may import which.

Each module's imports are read with `ast` (an import under `if TYPE_CHECKING:` names a type only,
and is not counted; one inside a function is). A rule that does not hold yet everywhere lists
its exceptions here and in the doc, so that one cannot grow without the other saying so.

Every module of provenance/ and cli/ also states its public names in `__all__`, read the same
way (nothing is imported): each name there is bound by the module, and each name another module
of ours imports from it (`from provenance.X import NAME`) is there.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
# Where each installed package's source lives (pyproject.toml's package-dir).
SOURCES = {
    "provenance": ROOT / "provenance",
    "provenance.cli": ROOT / "cli",
    "provenance.migrations": ROOT / "migrations",
}


def modules() -> Iterator[tuple[str, Path]]:
    for package, folder in SOURCES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            if package == "provenance" and parts[0] == "cli":
                continue
            name = ".".join((package, *parts)).removesuffix(".__init__")
            yield name, path


def runtime_imports(path: Path) -> set[str]:
    """Every module `path` imports when it runs (anywhere but under `if TYPE_CHECKING:`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


IMPORTS = {name: runtime_imports(path) for name, path in modules()}


def under(name: str, *packages: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def importers_of(*targets: str, among: list[str]) -> dict[str, list[str]]:
    """Of the modules `among`, those that import one of `targets`: module -> what it imports."""
    found: dict[str, list[str]] = {}
    for module in among:
        hits = sorted(i for i in IMPORTS[module] if under(i, *targets))
        if hits:
            found[module] = hits
    return found


LIBRARY = [m for m in IMPORTS if not under(m, "provenance.cli")]
CLI = [m for m in IMPORTS if under(m, "provenance.cli")]
# The pure cores: facts in, answers out; no database, no session, no ledger.
PURE = [
    m
    for m in LIBRARY
    if under(
        m,
        "provenance.scan",
        "provenance.origins",
        "provenance.obligations",
        "provenance.policy",
        "provenance.resolution",
        "provenance.deliveries",
        "provenance.merkle",
        "provenance.paths",
        "provenance.roots",
        "provenance.records",
        "provenance.packed_refs",
        "provenance.errors",
        "provenance.detect",
        "provenance.scenes",
        "provenance.report",
        "provenance.interchange",
    )
]
STORE = [m for m in LIBRARY if under(m, "provenance.store")]

# Known exceptions, also listed in docs/architecture.md ("Not yet so"): none left.
STORE_JUDGING_EXCEPTIONS: dict[str, list[str]] = {}
CLI_STORE_EXCEPTIONS: dict[str, list[str]] = {}


def test_the_library_never_imports_click() -> None:
    assert importers_of("click", among=LIBRARY) == {}


def test_the_pure_cores_never_touch_the_database() -> None:
    assert PURE, "no pure module found: check the names above against provenance/"
    found = importers_of("sqlalchemy", "provenance.store", "provenance.ledger", among=PURE)
    assert found == {}


def test_the_store_does_not_apply_the_policy() -> None:
    found = importers_of("provenance.policy", "provenance.finalizer", among=STORE)
    assert {m: sorted({".".join(i.split(".")[:2]) for i in v}) for m, v in found.items()} == (
        STORE_JUDGING_EXCEPTIONS
    )


WORKFLOWS = (
    "provenance.ingest",
    "provenance.finalizer",
    "provenance.unseen",
    "provenance.scene_lineage",
    "provenance.strong",
    "provenance.manifests",
    "provenance.farm",
)


def test_the_stat_cache_and_the_store_import_no_workflow() -> None:
    assert "provenance.stat_cache" in IMPORTS
    among = [*STORE, "provenance.stat_cache"]
    assert importers_of(*WORKFLOWS, "provenance.ledger", among=among) == {}


def test_only_the_ingest_run_imports_the_ingest() -> None:
    """A sweep and a finalize fingerprint through `stat_cache`; tag, link and the MHL roll write
    claims and lineage through `store.claims`: the ingest's own class is for an ingest run."""
    users = importers_of("provenance.ingest", among=LIBRARY)
    # (`provenance.ledger` names the ingest's `Progress` type, under TYPE_CHECKING only.)
    allowed = ("provenance.facade.", "provenance.scene_lineage", "provenance.ledger")
    assert "provenance.facade.recording" in users  # (the ingest run itself)
    assert [m for m in sorted(users) if not m.startswith(allowed)] == []
    assert "provenance.finalizer" not in users


def test_the_cli_reaches_the_database_only_through_the_library() -> None:
    found = importers_of("sqlalchemy", "provenance.store", among=CLI)
    deepest = {
        module: sorted(n for n in names if not any(o.startswith(n + ".") for o in names))
        for module, names in found.items()
    }
    assert deepest == CLI_STORE_EXCEPTIONS


def test_integrations_use_the_public_api_only() -> None:
    integrations = [m for m in LIBRARY if under(m, "provenance.integrations")]
    assert integrations
    public = ("provenance.ledger", "provenance.errors", "provenance.records")
    for module in integrations:
        ours = {i for i in IMPORTS[module] if under(i, "provenance")}
        assert all(i == "provenance" or under(i, *public) for i in ours), (module, ours)


def test_only_the_ledger_calls_the_facade() -> None:
    """`provenance.facade` does the work of `Ledger`'s calls: everything else calls `Ledger`,
    and the facade needs the ledger module only for its type (no import cycle)."""
    facade = [m for m in LIBRARY if under(m, "provenance.facade")]
    assert facade
    others = [m for m in IMPORTS if not under(m, "provenance.ledger", "provenance.facade")]
    assert importers_of("provenance.facade", among=others) == {}
    assert importers_of("provenance.ledger", among=facade) == {}


def test_a_schema_revision_never_imports_the_library() -> None:
    revisions = [m for m in IMPORTS if under(m, "provenance.migrations.versions")]
    assert len(revisions) >= 12
    found = importers_of("provenance.store", "provenance.ledger", among=revisions)
    assert found == {}


# Every module of the library and of the CLI states its public names in `__all__`
# (docs/architecture.md): the names other modules import from it. Schema revisions and alembic's
# env.py are scripts alembic loads, not modules anything imports names from.
TREES = {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in modules()}
PACKAGES = {name for name, path in modules() if path.name == "__init__.py"}
STATING = sorted(m for m in TREES if not under(m, "provenance.migrations"))


def declared_all(tree: ast.Module) -> list[str] | None:
    """The module's `__all__`: one top-level assignment of a literal list or tuple of strings."""
    values = [
        node.value
        for node in tree.body
        if isinstance(node, (ast.Assign, ast.AnnAssign))
        and any(
            isinstance(target, ast.Name) and target.id == "__all__"
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        )
    ]
    if len(values) != 1 or not isinstance(values[0], (ast.List, ast.Tuple)):
        return None
    names = [e.value for e in values[0].elts if isinstance(e, ast.Constant)]
    if not all(isinstance(n, str) for n in names) or len(names) != len(values[0].elts):
        return None
    return names


def top_level_names(tree: ast.Module) -> set[str]:
    """Names a module binds when it runs: definitions, assignments and imports at its top level
    (in `if` and `try` blocks too), plus names only imported under `if TYPE_CHECKING:` that its
    module-level `__getattr__` hands out (the lazy `provenance.Ledger`)."""
    bound: set[str] = set()
    typing_only: set[str] = set()
    lazy: set[str] = set()

    def visit(body: list[ast.stmt], typing: bool) -> None:
        for node in body:
            found = typing_only if typing else bound
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                found.add(node.name)
                if node.name == "__getattr__":
                    lazy.update(
                        c.value
                        for c in ast.walk(node)
                        if isinstance(c, ast.Constant) and isinstance(c.value, str)
                    )
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                found.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
            elif isinstance(node, ast.Import):
                found.update((a.asname or a.name).split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                found.update(a.asname or a.name for a in node.names)
            elif isinstance(node, ast.If):
                visit(node.body, typing or "TYPE_CHECKING" in ast.unparse(node.test))
                visit(node.orelse, typing)
            elif isinstance(node, ast.Try):
                for block in (node.body, *(h.body for h in node.handlers), node.orelse):
                    visit(block, typing)
                visit(node.finalbody, typing)

    visit(tree.body, False)
    return bound | (typing_only & lazy)


def imported_names(module: str, tree: ast.Module) -> Iterator[tuple[str, str]]:
    """(module, name) of every `from <one of ours> import name` in `module`, anywhere in it
    (in functions and under `if TYPE_CHECKING:` too), relative imports resolved."""
    package = module.split(".") if module in PACKAGES else module.split(".")[:-1]
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = package[: len(package) - node.level + 1]
            source = ".".join([*base, *([node.module] if node.module else [])])
        else:
            source = node.module or ""
        for alias in node.names:
            yield source, alias.name


def test_every_module_states_its_public_names_in_all() -> None:
    assert len(STATING) >= 80, "no module found: check SOURCES against the folders"
    missing = [m for m in STATING if declared_all(TREES[m]) is None]
    assert missing == [], "define __all__ as a literal list of strings"
    repeated = {m: n for m in STATING if len(n := declared_all(TREES[m]) or []) != len(set(n))}
    assert repeated == {}


def test_every_name_in_all_is_defined_or_imported_by_its_module() -> None:
    wrong: dict[str, list[str]] = {}
    for module in STATING:
        bound = top_level_names(TREES[module])
        for name in declared_all(TREES[module]) or []:
            private = name.startswith("_") and not (name.startswith("__") and name.endswith("__"))
            if private or name not in bound:
                wrong.setdefault(module, []).append(name)
    assert wrong == {}, "a name of __all__ must be public, and bound by its module"


def test_every_name_imported_from_a_module_is_in_its_all() -> None:
    """What one module of ours imports from another (by `from ... import NAME`, not a private
    name, not a submodule) is that module's public name, stated in its `__all__`."""
    absent: dict[str, list[str]] = {}
    for importer, tree in TREES.items():
        for source, name in imported_names(importer, tree):
            if source not in STATING or name.startswith("_") or f"{source}.{name}" in TREES:
                continue
            if name != "*" and name not in (declared_all(TREES[source]) or []):
                absent.setdefault(importer, []).append(f"{source}.{name}")
    assert absent == {}, "add the name to its module's __all__"


SCHEMA_NAME = re.compile(r"^[A-Z][A-Za-z]+\.\d+$")


def test_every_document_name_is_spelled_once_in_provenance_schemas() -> None:
    from provenance import schemas

    values = [v for k, v in vars(schemas).items() if k.isupper()]
    assert len(values) == len(set(values)) and all(SCHEMA_NAME.match(v) for v in values)
    spelled: dict[str, list[str]] = {}
    for module, path in modules():
        if module == "provenance.schemas":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and SCHEMA_NAME.match(node.value)
                and id(node) not in docstrings
            ):
                spelled.setdefault(module, []).append(node.value)
    assert spelled == {}, "use the constant of provenance/schemas.py"


@pytest.mark.parametrize(
    "exceptions", [STORE_JUDGING_EXCEPTIONS, CLI_STORE_EXCEPTIONS], ids=["store", "cli"]
)
def test_the_doc_lists_every_known_exception(exceptions: dict[str, list[str]]) -> None:
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for module, imported in exceptions.items():
        assert re.search(rf"`{re.escape(module)}`", page), module
        for name in imported:
            assert f"`{name}`" in page, name


LONGEST_MODULE = 800
"""Lines: past this, a module of the library holds more than one part a reader can hold in
mind at once, and is split by what its parts do (docs/architecture.md)."""


def test_no_module_of_the_library_is_over_the_longest() -> None:
    long = {
        name: lines
        for name, path in modules()
        if name in LIBRARY
        and (lines := len(path.read_text(encoding="utf-8").splitlines())) > LONGEST_MODULE
    }
    assert long == {}
