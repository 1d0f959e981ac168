"""chainguard's packages import one another in one direction only (docs/ARCHITECTURE.md).

Each module's imports at module level (those that run when it is imported; not the ones under
``if TYPE_CHECKING:`` nor those inside functions) are read from its source, and each must go to
a layer no higher than the module's own:

    0  errors, models, findings, paths, _strictjson values, path safety, strict JSON
    1  _hashworker, hashing, config, compare*, sbom, collectors, trust, oms, reporters, attest
    2  api                                          the library surface
    3  cli, _launch, __main__                       the command line on top

Within layer 1, sbom and trust never import each other at module level: the SBOM is read from
bytes trust has verified, and trust hands sbom only what _strictjson parsed. A lazy import
inside a function is allowed (listed in LAZY_SBOM_TRUST, so that a new one is a decision).

oms (OpenSSF model signing) sits on top of layer 1: it builds on trust, hashing, collectors and
compare (OMS_MAY_IMPORT), and nothing else in layer 1 imports it at module level; the few
function-level imports into it are listed in LAZY_INTO_OMS.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chainguard

PACKAGE = Path(chainguard.__file__).parent

LAYERS: dict[str, int] = {
    "errors": 0,
    "models": 0,
    "findings": 0,
    "paths": 0,
    "_strictjson": 0,
    "api": 2,
    "cli": 3,
    "_launch": 3,
    "__main__": 3,
}
MIDDLE = 1  # everything else

# Function-level imports between sbom and trust (module, imported module), known and allowed.
LAZY_SBOM_TRUST = {
    ("chainguard.trust.gate", "chainguard.sbom.read"),
    ("chainguard.trust.gate", "chainguard.sbom.vocabulary"),
    ("chainguard.trust.statement", "chainguard.sbom.packed"),
}

# What oms may import, at module level or inside functions (top-level names under chainguard).
OMS_MAY_IMPORT = {
    "errors",
    "models",
    "findings",
    "paths",
    "_strictjson",
    "hashing",
    "collectors",
    "trust",
    "compare",  # compare_model hands the signed manifest to compare.compare_tree
    "oms",
}
# Function-level imports of oms from the rest of layer 1 (module, imported module), allowed.
LAZY_INTO_OMS = {
    ("chainguard.trust.policy", "chainguard.oms.certificates"),
}


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:  # relative: from the module's package
        base = module.split(".")
        base = base[: len(base) - node.level + (1 if is_package else 0)]
        prefix = ".".join([*base, node.module] if node.module else base)
    else:
        prefix = node.module or ""
    # "from chainguard.sbom import fileshape" imports the module chainguard.sbom.fileshape
    return [prefix, *(f"{prefix}.{alias.name}" for alias in node.names)]


def imports(module: str, path: Path, *, lazy: bool) -> set[str]:
    """chainguard modules ``module`` imports at module level (``lazy``: only in functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    known = {name for name, _ in modules()}
    found: set[str] = set()

    def visit(nodes: list[Any], in_function: bool) -> None:
        # statements, and the except clauses (their bodies are statements too)
        for node in nodes:
            if isinstance(node, ast.If) and _is_type_checking(node):
                visit(node.orelse, in_function)
                continue
            if isinstance(node, ast.Import | ast.ImportFrom):
                if in_function == lazy:
                    names = _imported(node, module, path.name == "__init__.py")
                    found.update(n for n in names if n in known and n != module)
                continue
            inner = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            for field in ("body", "orelse", "finalbody", "handlers"):
                children = getattr(node, field, None)
                if isinstance(children, list):
                    visit(children, inner)

    visit(tree.body, in_function=False)
    return found


def top(module: str) -> str:
    """The package or module right under chainguard: "sbom", "trust", "api", "models", ..."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def layer(module: str) -> int:
    return LAYERS.get(top(module), MIDDLE)


def test_every_module_imports_downwards_only() -> None:
    wrong = [
        f"{module} (layer {layer(module)}) imports {name} (layer {layer(name)})"
        for module, path in modules()
        for name in sorted(imports(module, path, lazy=False))
        if layer(name) > layer(module)
    ]
    assert not wrong, "\n".join(wrong)


def test_sbom_and_trust_do_not_import_each_other() -> None:
    apart = {"sbom": "trust", "trust": "sbom"}
    wrong = [
        f"{module} imports {name}"
        for module, path in modules()
        if top(module) in apart
        for name in sorted(imports(module, path, lazy=False))
        if top(name) == apart[top(module)]
    ]
    assert not wrong, "\n".join(wrong)


def test_lazy_imports_between_sbom_and_trust_are_the_known_ones() -> None:
    apart = {"sbom": "trust", "trust": "sbom"}
    found = {
        (module, name)
        for module, path in modules()
        if top(module) in apart
        for name in imports(module, path, lazy=True)
        if top(name) == apart[top(module)]
    }
    assert found == LAZY_SBOM_TRUST


def test_oms_imports_only_what_it_builds_on() -> None:
    wrong = [
        f"{module} imports {name}"
        for module, path in modules()
        if top(module) == "oms"
        for lazy in (False, True)
        for name in sorted(imports(module, path, lazy=lazy))
        if top(name) not in OMS_MAY_IMPORT
    ]
    assert not wrong, "\n".join(wrong)


def test_nothing_below_oms_imports_it_at_module_level() -> None:
    wrong = [
        f"{module} imports {name}"
        for module, path in modules()
        if layer(module) <= MIDDLE and top(module) != "oms"
        for name in sorted(imports(module, path, lazy=False))
        if top(name) == "oms"
    ]
    assert not wrong, "\n".join(wrong)


def test_lazy_imports_of_oms_from_below_are_the_known_ones() -> None:
    found = {
        (module, name)
        for module, path in modules()
        if layer(module) <= MIDDLE and top(module) != "oms"
        for name in imports(module, path, lazy=True)
        if top(name) == "oms"
    }
    assert found == LAZY_INTO_OMS
