from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import chainguard.reporters
from chainguard.errors import ExitCode, UsageError
from chainguard.findings import Report
from chainguard.reporters import REPORTERS, get_reporter
from chainguard.reporters.interface import Reporter

# interface: the contract; diff: the release diff's renderers (chainguard diff), not a Report format
NOT_FORMATS = {"interface", "diff"}


def _format_modules() -> set[str]:
    return {
        info.name
        for info in pkgutil.iter_modules(chainguard.reporters.__path__)
        if info.name not in NOT_FORMATS
    }


def test_every_format_module_is_registered() -> None:
    registered = {type(reporter).__module__ for reporter in REPORTERS.values()}
    expected = {f"chainguard.reporters.{name}" for name in _format_modules()}
    assert registered == expected


def test_registry_has_the_documented_formats() -> None:
    assert set(REPORTERS) == {"text", "json", "sarif", "markdown"}


@pytest.mark.parametrize("module", sorted(_format_modules()))
def test_each_format_module_defines_a_reporter(module: str) -> None:
    mod = importlib.import_module(f"chainguard.reporters.{module}")
    classes = [
        obj
        for obj in vars(mod).values()
        if isinstance(obj, type) and obj.__module__ == mod.__name__ and hasattr(obj, "render")
    ]
    assert len(classes) == 1
    assert isinstance(classes[0](), Reporter)


@pytest.mark.parametrize("name", sorted(REPORTERS))
def test_registry_key_is_the_reporter_name(name: str) -> None:
    reporter = get_reporter(name)
    assert reporter.name == name
    assert isinstance(reporter, Reporter)


def test_unknown_format_is_a_usage_error_listing_the_choices() -> None:
    with pytest.raises(UsageError) as excinfo:
        get_reporter("html")
    message = str(excinfo.value)
    assert "'html'" in message
    for name in REPORTERS:
        assert name in message
    assert excinfo.value.exit_code is ExitCode.USAGE


@pytest.mark.parametrize("name", sorted(REPORTERS))
@pytest.mark.parametrize("color", [False, True])
def test_every_reporter_renders_every_report(name: str, color: bool, any_report: Report) -> None:
    out = get_reporter(name).render(any_report, color=color)
    assert out.endswith("\n")
    assert not out.endswith("\n\n")
    out.encode("utf-8")  # the CLI must be able to write it


def test_import_is_light() -> None:
    """Every verify run imports the reporters: stdlib and chainguard.findings only."""
    probe = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import chainguard.reporters\n"
        "print('\\n'.join(sorted(set(sys.modules) - before)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    allowed_own = {"chainguard", "chainguard.errors", "chainguard.findings"}
    for module in result.stdout.split():
        if module.startswith("chainguard"):
            assert module in allowed_own or module.startswith("chainguard.reporters"), module
        else:
            assert module.split(".")[0] in sys.stdlib_module_names, module
