"""requirements.txt: pins, hashes, markers, includes, and everything else reported, not dropped."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from support import DEPS_FIXTURES

from chainguard.collectors.requirements import collect_requirements
from chainguard.errors import LockfileError
from chainguard.models import Dependency
from chainguard.sbom import vocabulary as v

H1 = hashlib.sha256(b"one").hexdigest()
H2 = hashlib.sha256(b"two").hexdigest()


def extra(d: Dependency, name: str) -> str | None:
    return next((p.value for p in d.extras if p.name == name), None)


def write(tmp_path: Path, text: str, name: str = "requirements.txt") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def by_name(deps: tuple[Dependency, ...]) -> dict[str, Dependency]:
    return {d.name: d for d in deps}


def test_pip_compile_output_is_read_with_every_hash() -> None:
    observed = collect_requirements(DEPS_FIXTURES / "requirements.txt")
    assert observed.kind == "requirements"
    assert observed.ref == "requirements:requirements.txt"
    deps = by_name(observed.dependencies)
    assert sorted(deps) == ["certifi", "charset-normalizer", "idna", "numpy", "requests", "urllib3"]
    assert deps["charset-normalizer"].version == "3.4.0"
    assert len(deps["charset-normalizer"].hashes) == 4
    assert all(h.startswith("sha256:") and len(h) == 71 for h in deps["numpy"].hashes)
    assert deps["requests"].purl == "pkg:pypi/requests@2.32.3"
    assert deps["requests"].manifest == "requirements:requirements.txt"
    assert observed.notes == ()


def test_includes_are_read_relative_to_the_including_file(tmp_path: Path) -> None:
    observed = collect_requirements(DEPS_FIXTURES / "requirements-dev.txt")
    deps = by_name(observed.dependencies)
    assert "pytest" in deps and "requests" in deps
    assert deps["requests"].source == str(DEPS_FIXTURES / "requirements.txt")
    assert deps["pytest"].source == str(DEPS_FIXTURES / "requirements-dev.txt")
    # every pin belongs to the manifest that was asked for, wherever the line came from
    assert {d.manifest for d in deps.values()} == {"requirements:requirements-dev.txt"}
    assert extra(deps["pytest"], v.MARKER) == 'python_version >= "3.8"'
    assert "urllib3" not in {d.name for d in observed.dependencies if d.version is None}
    assert any("constraints file constraints.txt" in n for n in observed.notes)


def test_continuations_comments_and_hash_spellings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "# top comment\n"
        "\n"
        f"Foo_Bar==1.0 \\\n    --hash=sha256:{H1.upper()} \\\n    --hash sha256:{H2}  # trailing\n"
        "    # via something\n"
        f"baz==2.0 --hash=sha256:{H1}\n",
    )
    deps = by_name(collect_requirements(path).dependencies)
    assert deps["foo-bar"].version == "1.0"
    assert deps["foo-bar"].hashes == tuple(sorted((f"sha256:{H1}", f"sha256:{H2}")))
    assert deps["baz"].hashes == (f"sha256:{H1}",)


def test_markers_are_recorded_and_a_non_applying_one_is_noted(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'tomli==2.0.1 ; python_version < "3"\nrich==13.0 ; python_version >= "3"\n',
    )
    observed = collect_requirements(path)
    deps = by_name(observed.dependencies)
    assert extra(deps["tomli"], v.MARKER) == 'python_version < "3"'
    assert extra(deps["rich"], v.MARKER) == 'python_version >= "3"'
    assert [n for n in observed.notes if "does not apply" in n] == [
        f"{path}:1: marker 'python_version < \"3\"' does not apply to this interpreter"
    ]


def test_unpinned_url_editable_and_path_lines_are_reported(tmp_path: Path) -> None:
    (tmp_path / "localpkg").mkdir()
    path = write(
        tmp_path,
        "requests>=2,<3\n"
        "six\n"
        "pkg-a @ https://example.com/pkg_a-1.0.tar.gz\n"
        "-e ./localpkg\n"
        "--editable git+https://example.com/org/thing.git@v1#egg=thing\n"
        "./dist/wheelie-1.2.3-py3-none-any.whl\n",
    )
    observed = collect_requirements(path)
    deps = by_name(observed.dependencies)
    assert deps["requests"].version is None
    assert extra(deps["requests"], v.SPECIFIER) == "<3,>=2"
    assert extra(deps["six"], v.SPECIFIER) == "*"
    assert extra(deps["pkg-a"], v.LOCATOR) == "url:https://example.com/pkg_a-1.0.tar.gz"
    assert extra(deps["localpkg"], v.LOCATOR) == "editable:./localpkg"
    assert extra(deps["thing"], v.LOCATOR) == (
        "editable:git+https://example.com/org/thing.git@v1#egg=thing"
    )
    assert (deps["wheelie"].version, extra(deps["wheelie"], v.LOCATOR)) == (
        "1.2.3",
        "path:./dist/wheelie-1.2.3-py3-none-any.whl",
    )
    assert len(observed.notes) == 6  # one per line: nothing silently dropped


def test_editable_dot_names_the_directory_of_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "my-service", "-e .\n")
    assert [d.name for d in collect_requirements(path).dependencies] == ["my-service"]


def test_the_same_pin_under_two_markers_is_one_dependency(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f'a==1.0 ; sys_platform == "linux" --hash=sha256:{H1}\n'
        f'a==1.0 ; sys_platform == "darwin" --hash=sha256:{H2}\n',
    )
    (dep,) = collect_requirements(path).dependencies
    assert len(dep.hashes) == 2
    assert extra(dep, v.MARKER) == '(sys_platform == "linux") or (sys_platform == "darwin")'


def test_install_options_are_tolerated(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "--index-url https://pypi.org/simple\n"
        "--extra-index-url=https://mirror.example/simple\n"
        "-i https://pypi.org/simple\n"
        "-f ./wheels\n"
        "--no-binary :all:\n"
        "--prefer-binary\n"
        "--require-hashes\n"
        "--some-future-option\n"
        "a==1\n",
    )
    observed = collect_requirements(path)
    assert [d.name for d in observed.dependencies] == ["a"]
    assert observed.notes == (f"{path}:8: unknown option --some-future-option ignored",)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"requirements.txt": "-r requirements.txt\n"}, "makes a cycle of -r includes"),
        (
            {"requirements.txt": "-r b.txt\n", "b.txt": "--requirement=sub/c.txt\n"}
            | {"sub/c.txt": "-r ../requirements.txt\n"},
            "makes a cycle of -r includes",
        ),
        ({"requirements.txt": "-r missing.txt\n"}, "included file missing.txt not found"),
        ({"requirements.txt": "-r https://x.example/r.txt\n"}, "is remote"),
        ({"requirements.txt": "-r\n"}, "-r needs a file name"),
        ({"requirements.txt": "a==1\nnot a requirement!!\n"}, ":2: invalid requirement"),
        ({"requirements.txt": "a==1 --hash=sha256:abc\n"}, "sha256 hash must be 64 hex digits"),
        ({"requirements.txt": f"a==1 --hash=md4:{H1}\n"}, "unsupported hash algorithm 'md4'"),
        ({"requirements.txt": f"a==1 --hash={H1}\n"}, "must be written <algorithm>:<hex>"),
        ({"requirements.txt": "a==1 --hash\n"}, "--hash needs a value"),
        ({"requirements.txt": f"a==1\n--hash=sha256:{H1}\n"}, "belongs to no requirement"),
        ({"requirements.txt": "a==1 --frobnicate\n"}, "unknown option --frobnicate"),
        ({"requirements.txt": "a==1 ; python_version <<< '3'\n"}, "invalid requirement"),
        ({"requirements.txt": "-e\n"}, "-e needs a path or URL"),
        ({"requirements.txt": "-c\n"}, "-c needs a file name"),
    ],
)
def test_malformed_requirements_raise_one_line(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    for name, text in files.items():
        write(tmp_path, text, name)
    with pytest.raises(LockfileError) as e:
        collect_requirements(tmp_path / "requirements.txt")
    text = str(e.value)
    assert message in text
    assert "\n" not in text
    assert str(tmp_path) in text


def test_unreadable_inputs(tmp_path: Path) -> None:
    (tmp_path / "bin.txt").write_bytes(b"a==1\n\xff\xfe\n")
    (tmp_path / "dir.txt").mkdir()
    for name, message in [
        ("bin.txt", "not UTF-8"),
        ("dir.txt", "is a directory"),
        ("absent.txt", "no such requirements file"),
    ]:
        with pytest.raises(LockfileError, match=message):
            collect_requirements(tmp_path / name)


def test_an_include_chain_that_is_not_a_cycle_is_fine(tmp_path: Path) -> None:
    # a diamond: both branches include the same base file
    write(tmp_path, "-r x.txt\n-r y.txt\n")
    write(tmp_path, "-r base.txt\nx==1\n", "x.txt")
    write(tmp_path, "-r base.txt\ny==1\n", "y.txt")
    write(tmp_path, "base==1\n", "base.txt")
    observed = collect_requirements(tmp_path / "requirements.txt")
    assert [d.name for d in observed.dependencies] == ["base", "x", "y"]
    assert observed.files_checked == 5
