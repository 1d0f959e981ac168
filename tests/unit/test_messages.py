"""Every error and every finding rule says, on one line, what is wrong with which input and what
to do (issue "Hardening", Messages).

Errors: every ``ChainguardError`` subclass (all of chainguard imported, lazily loaded modules
too) has a docstring and a documented exit code, and every ``raise`` of one in the source (read
with ``ast``) passes a message that is text written there: no newline, naming the input (the
``"<path>: <what is wrong>"`` convention: an interpolated value; for a usage error, the option
or setting at fault), and, where the text is fixed, saying what to do. The CLI prints the
message through ``one_line`` whatever a value interpolated into it holds.

Rules: every rule of ``RULES`` has a one-line title and a one-line remediation whose clauses
include an instruction.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from support import REPO_ROOT

import chainguard
from chainguard.errors import ChainguardError, ExitCode, InputError, UsageError
from chainguard.findings import RULES, Severity

PACKAGE = REPO_ROOT / "chainguard"

# Fixed messages that name no input, each with why none can be named. Keyed by (file, text).
NO_INPUT_TO_NAME = {
    ("hashing.py", "hashing cancelled"): "control flow: raised only after cancel(), whose "
    "caller never reads the result (observe.TreeObservation)",
    ("hashing_small.py", "every hashing worker process has stopped"): "the processes are "
    "chainguard's own; what the command was reading is in the command line",
    ("collectors/scanwalk.py", "every format-detecting worker process has stopped"): "as above",
    ("collectors/scanwalk.py", "scan cancelled"): "control flow: raised only after cancel(), "
    "when scan does not adopt the early walk (collectors/scanwalk.EarlyScan)",
    ("sbom/compact.py", "the temporary file holding the compact SBOM"): "chainguard's own "
    "temporary file (sign names the SBOM it reads in its other errors)",
    ("trust/sigstore.py", "the OIDC identity token expired"): "the token is not a file",
}

# Words an instruction starts with (imperative), in a rule's remediation or a fixed message.
_INSTRUCTION_WORDS = """add build check choose collect convert delete deploy do enroll find fix
    free give install investigate keep move pass pick pin prefer re-obtain regenerate reinstall
    remove rename replace restart restore review rotate run set sign stop treat upgrade use
    withdraw verify"""
INSTRUCTIONS = frozenset(_INSTRUCTION_WORDS.split())


def _import_everything() -> None:
    """Import every chainguard module, so that every error class defined anywhere exists."""
    for module in pkgutil.walk_packages(chainguard.__path__, "chainguard."):
        if module.name.rsplit(".", 1)[-1] != "__main__":  # runs the CLI
            importlib.import_module(module.name)


def error_classes() -> list[type[ChainguardError]]:
    _import_everything()
    found: list[type[ChainguardError]] = [ChainguardError]
    for cls in found:
        found += [c for c in cls.__subclasses__() if c not in found]
    return found


def test_every_error_class_is_documented_with_an_exit_code() -> None:
    readme = (REPO_ROOT / "README.md").read_text("utf-8")
    table = readme.split("## Exit codes", 1)[1]
    classes = error_classes()
    assert len(classes) > 20  # the walk found the hierarchy (and its lazily loaded members)
    for cls in classes:
        assert cls.__doc__ and cls.__doc__.strip(), f"{cls.__qualname__}: no docstring"
        assert isinstance(cls.exit_code, ExitCode), cls
        assert cls.exit_code is not ExitCode.OK, cls
        assert f"\n| {int(cls.exit_code)} |" in table, (cls, "exit code not in the README")


@dataclass(frozen=True)
class RaiseSite:
    file: str  # relative to chainguard/
    line: int
    cls: type[ChainguardError]
    message: ast.expr | None

    def __str__(self) -> str:
        shown = ast.unparse(self.message) if self.message is not None else "no message"
        return f"chainguard/{self.file}:{self.line}: {self.cls.__name__}({shown})"


def raise_sites() -> list[RaiseSite]:
    """Every ``raise Error(...)`` in chainguard whose name is a ChainguardError subclass."""
    classes = {c.__name__: c for c in error_classes()}
    sites = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text("utf-8"), str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                continue
            func = node.exc.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            cls = classes.get(name or "")
            if cls is None:
                continue
            # VerificationFailure(rule, message, ...); every other error (message)
            index = 1 if cls.__name__ == "VerificationFailure" else 0
            args = node.exc.args
            message = args[index] if len(args) > index else None
            message = message or next(
                (k.value for k in node.exc.keywords if k.arg == "message"), None
            )
            sites.append(RaiseSite(path.relative_to(PACKAGE).as_posix(), node.lineno, cls, message))
    return sites


SITES = raise_sites()


def _text_parts(message: ast.expr) -> Iterator[ast.expr]:
    """The pieces of a message written in the source: literals and f-strings, joined by +,
    chosen by a conditional, or tidied by a str method (``f"...".rstrip()``)."""
    match message:
        case ast.Constant(value=str()) | ast.JoinedStr():
            yield message
        case ast.BinOp(op=ast.Add()):
            yield from _text_parts(message.left)
            yield from _text_parts(message.right)
        case ast.IfExp():
            yield from _text_parts(message.body)
            yield from _text_parts(message.orelse)
        case ast.Call(func=ast.Attribute(value=value)) if isinstance(
            value, (ast.Constant, ast.JoinedStr, ast.BinOp)
        ):
            yield from _text_parts(value)
        case _:
            raise ValueError(ast.unparse(message))


def _rewrapped(message: ast.expr) -> bool:
    """``str(e)``: the message of a caught chainguard error, raised again as another class
    (its own raise site is checked)."""
    return (
        isinstance(message, ast.Call)
        and isinstance(message.func, ast.Name)
        and message.func.id == "str"
        and len(message.args) == 1
        and isinstance(message.args[0], ast.Name)
    )


def _literal(part: ast.expr) -> str:
    if isinstance(part, ast.Constant):
        return str(part.value)
    assert isinstance(part, ast.JoinedStr)
    return "".join(str(v.value) if isinstance(v, ast.Constant) else "{}" for v in part.values)


def _interpolates(part: ast.expr) -> bool:
    return isinstance(part, ast.JoinedStr) and any(
        isinstance(v, ast.FormattedValue) for v in part.values
    )


def _instructs(text: str) -> bool:
    """Some clause starts with an instruction, names an option, a command to run or a rule
    the input must meet."""
    if re.search(r"--[a-z]|pip install|chainguard \w| must | needs ", text):
        return True
    clauses = re.split(r"[.;:(,]\s*|\band\s+|\bor\s+", text)
    return any(c.split(" ", 1)[0].lower() in INSTRUCTIONS for c in clauses if c)


def _handed_to_parsers() -> set[str]:
    """Names passed as an argument (``loads_strict(data, where, SbomError)``): classes a shared
    parser raises (its own raise site, ``raise error(...)``, is checked like any other)."""
    names = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Call):
                values = [*node.args, *(k.value for k in node.keywords)]
                names |= {v.id for v in values if isinstance(v, ast.Name)}
    return names


def test_the_source_raises_errors_of_every_concrete_class() -> None:
    raised = {site.cls.__name__ for site in SITES} | _handed_to_parsers()
    for cls in error_classes():
        if cls.__name__ not in raised:
            assert cls.__subclasses__(), f"{cls.__qualname__} is never raised"


@pytest.mark.parametrize("site", SITES, ids=str)
def test_every_raised_message_is_one_line_naming_its_input(site: RaiseSite) -> None:
    assert site.message is not None, f"{site}: no message"
    if _rewrapped(site.message):
        return
    try:
        parts = list(_text_parts(site.message))
    except ValueError:
        pytest.fail(f"{site}: the message is not text written at the raise site")
    text = "".join(_literal(p) for p in parts)
    assert "\n" not in text and "\r" not in text, f"{site}: more than one line"
    assert text.strip() == text and text, f"{site}: empty, or leading/trailing blanks"
    if any(_interpolates(p) for p in parts):
        return  # names the path, value or option it is about
    allowed = [
        why
        for (file, start), why in NO_INPUT_TO_NAME.items()
        if site.file == file and text.startswith(start)
    ]
    if not allowed:
        assert issubclass(site.cls, UsageError), f"{site}: names no input (no value in it)"
        assert not issubclass(site.cls, InputError)
    if not any(why.startswith("control flow") for why in allowed):  # never shown
        assert _instructs(text), f"{site}: a fixed message must say what to do"


def test_no_input_to_name_lists_only_sites_that_exist() -> None:
    texts = {
        (s.file, "".join(_literal(p) for p in _text_parts(s.message)))
        for s in SITES
        if s.message is not None and not _rewrapped(s.message)
    }
    for file, start in NO_INPUT_TO_NAME:
        assert any(f == file and t.startswith(start) for f, t in texts), (file, start)


@pytest.mark.parametrize("rule", RULES.values(), ids=lambda r: r.id)
def test_every_rule_has_a_one_line_title_and_an_actionable_remediation(rule: object) -> None:
    from chainguard.findings import Rule

    assert isinstance(rule, Rule)
    for text in (rule.title, rule.remediation):
        assert text and text.strip() == text and "\n" not in text, rule.id
        assert text[0].isupper(), (rule.id, text)
    assert not rule.title.endswith("."), rule.id
    assert rule.remediation.endswith("."), rule.id
    assert rule.remediation != rule.title
    assert isinstance(rule.severity, Severity)
    nothing = rule.remediation.startswith("Nothing to do")
    assert nothing or _instructs(rule.remediation), (rule.id, rule.remediation)
    if nothing:  # only a note (or a warning) can leave nothing to do
        assert rule.severity is not Severity.ERROR, rule.id


def test_the_cli_prints_any_message_on_one_line() -> None:
    from chainguard.cli._app import one_line

    assert "\n" not in one_line("/data/a\nb.bin: cannot read\r\nagain")


def _finding_calls() -> Iterator[tuple[str, int, ast.Call]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Finding":
                yield path.relative_to(PACKAGE).as_posix(), node.lineno, node


def test_findings_made_in_the_source_use_listed_rules_and_one_line_texts() -> None:
    for file, line, call in _finding_calls():
        where = f"chainguard/{file}:{line}"
        rule, _path, message = [*call.args, None, None, None][:3]
        if isinstance(rule, ast.Constant):
            assert rule.value in RULES, (where, rule.value)
        for part in ast.walk(message) if message is not None else ():
            if isinstance(part, ast.Constant) and isinstance(part.value, str):
                assert "\n" not in part.value and "\r" not in part.value, where


def test_every_rule_is_reported_somewhere() -> None:
    """Each rule id appears as a literal outside findings.py: some code reports it."""
    literals: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if path.name != "findings.py" or path.parent != PACKAGE:
            tree = ast.parse(path.read_text("utf-8"))
            literals |= {
                n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in RULES
            }
    assert set(RULES) - literals == set()
