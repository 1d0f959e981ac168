"""SBOM surgery: find and edit a document's components and file entries, make an edited tree
component self-consistent again (reseal), and sign the result (resign), as a malicious signer
holding the key, another tool, or a buggy one would."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chainguard.models import FileDigest, Subject, tree_digest

if TYPE_CHECKING:
    from support.release import Release


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def component_of(doc: dict[str, Any], bom_ref: str) -> dict[str, Any]:
    """The (first) component with this bom-ref."""
    found = [c for c in doc["components"] if c.get("bom-ref") == bom_ref]
    assert found, bom_ref
    result: dict[str, Any] = found[0]
    return result


def file_node(doc: dict[str, Any], bom_ref: str, path: str) -> dict[str, Any]:
    """The file entry ``path`` of component ``bom_ref``."""
    return next(f for f in component_of(doc, bom_ref)["components"] if f["name"] == path)


def new_file_node(path: str, content: bytes, component: str = "weights") -> dict[str, Any]:
    """A CycloneDX file entry of model ``component`` exactly as chainguard writes one (small
    files only)."""
    return {
        "type": "file",
        "bom-ref": f"model:{component}/{path}",
        "name": path,
        "hashes": [{"alg": "SHA-256", "content": sha256(content)}],
        "properties": [{"name": "chainguard:size", "value": str(len(content))}],
    }


def props(node: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p.get("value", "") for p in node.get("properties", [])}


def set_prop(node: dict[str, Any], name: str, value: str | None) -> None:
    """Set (or with None, remove) a property on a node."""
    kept = [p for p in node.get("properties", []) if p["name"] != name]
    if value is not None:
        kept.append({"name": name, "value": value})
    node["properties"] = kept


def _files(component: dict[str, Any]) -> list[FileDigest]:
    files = []
    for node in component.get("components", []):
        sha = next(h["content"] for h in node["hashes"] if h["alg"] == "SHA-256")
        size = int(props(node)["chainguard:size"])
        files.append(FileDigest(node["name"], size, sha))
    return files


def reseal(component: dict[str, Any]) -> None:
    """Recompute a tree component's root digest, file count and total size, in place, after
    its file list was edited: the SBOM stays self-consistent."""
    files = _files(component)
    for h in component["hashes"]:
        if h["alg"] == "SHA-256":
            h["content"] = tree_digest(files)
    for p in component["properties"]:
        if p["name"] == "chainguard:file-count":
            p["value"] = str(len(files))
        elif p["name"] == "chainguard:total-size":
            p["value"] = str(sum(f.size for f in files))


def reseal_all(doc: dict[str, Any]) -> None:
    """Reseal every tree component (writing the digest and counts afresh), so that a test's
    mutation reaches the check it targets instead of the digest check. A component whose
    mutation broke a file entry is left alone: read.py rejects it before the digest."""
    for c in doc.get("components", []):
        if not isinstance(c, dict) or c.get("type") not in ("machine-learning-model", "data"):
            continue
        try:
            files = _files(c)
            digest = tree_digest(files)
        except (KeyError, ValueError, TypeError, AttributeError, StopIteration, UnicodeEncodeError):
            continue
        c["hashes"] = [{"alg": "SHA-256", "content": digest}]
        set_prop(c, "chainguard:file-count", str(len(files)))
        set_prop(c, "chainguard:total-size", str(sum(f.size for f in files)))


def signed_variant(
    release: Release,
    directory: Path,
    doc: dict[str, Any],
    *,
    raw: bool = False,
    respell: Callable[[bytes], bytes] | None = None,
) -> Release:
    """The same artefacts and key, with ``doc`` as the SBOM, signed (resign), in ``directory``."""
    other = release.moved_to(directory)
    resign(other, doc, raw=raw, respell=respell)
    return other


def resign(
    release: Release,
    doc: dict[str, Any],
    *,
    raw: bool = False,
    respell: Callable[[bytes], bytes] | None = None,
) -> None:
    """Write ``doc`` as the release's SBOM (as `sbom build` lays it out) and sign it with the
    release key. ``raw``: sign it as it stands, as an attacker holding the key (or another
    DSSE tool) would; `sign` reads the SBOM first and refuses a malformed one. ``respell``
    (raw only): the statement's bytes as signed, from those `sign` would write (the same
    JSON, laid out otherwise)."""
    from chainguard import api

    release.sbom.write_text(json.dumps(doc, indent=2) + "\n")
    assert raw or respell is None
    if not raw:
        api.sign_sbom(release.sbom, release.key, release.sig)
        return
    from chainguard.trust import dsse
    from chainguard.trust.bundle import key_bundle_json
    from chainguard.trust.keys import load_private_key
    from chainguard.trust.statement import PAYLOAD_TYPE_IN_TOTO, build_statement

    data = release.sbom.read_bytes()
    subjects = [Subject(f"deployment:{release.deployment}", (("sha256", sha256(data)),))]
    for c in doc["components"]:
        if c.get("bom-ref", "").startswith(("dataset:", "model:")):
            root = next(h["content"] for h in c["hashes"] if h["alg"] == "SHA-256")
            subjects.append(Subject(c["bom-ref"], (("sha256", root),)))
    key = load_private_key(release.key, None)
    payload = build_statement(subjects, "https://cyclonedx.org/bom", json.loads(data))
    if respell is not None:
        written, payload = payload, respell(payload)
        assert json.loads(payload) == json.loads(written)  # only the layout differs
    envelope = dsse.sign(payload, PAYLOAD_TYPE_IN_TOTO, key)
    release.sig.write_bytes(key_bundle_json(envelope, key.trusted_key))
