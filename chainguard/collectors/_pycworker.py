"""Is each .pyc a compilation of its source? Run by the environment's own interpreter.

``python -I -S -B -W ignore _pycworker.py hello`` prints ``[cache_tag, magic number in hex,
version]`` (the implementation's name and ``sys.version``).
Without arguments it reads a JSON list of jobs ``[pyc, source, optimize, check_hash]`` from
stdin (all of it, before answering) and writes one JSON line ``[verdict, detail]`` per job, in
order, flushed one by one (so that if the interpreter dies, the job it died on is known):

- ``match``: the code in the .pyc is what compiling the source gives, followed by the SHA-256
  of the source and of the .pyc as read (what a cached pass is keyed by);
- ``stale``: a checked hash-based .pyc whose source hash differs (Python recompiles it);
- ``mismatch``: anything else, with the reason.

The .pyc's code is compiled again from the source with the same file name (``co_filename``:
the installer's path, which differs from the import path once an environment is copied, and
which Python replaces with the real path when it loads the .pyc) and the same optimization
level, then marshalled and compared byte for byte. ``marshal`` only marks objects it finds
referenced more than once, which depends on the state of the process that wrote the .pyc, so
when the bytes differ both code objects are marshalled again at version 2 (no references) and
compared once more.

Only the standard library is used, and nothing from the environment is imported (``-S``: no
site-packages on sys.path). Written for any Python 3 that may be in an environment: no syntax
newer than 3.8 (annotations are never evaluated).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import marshal
import sys
import types
import warnings


def check(pyc: str, source: str, optimize: int, check_hash: bool) -> list[str]:
    """[verdict, detail], and for a match the digests of the bytes compared."""
    try:
        with open(pyc, "rb") as f:
            data = f.read()
        with open(source, "rb") as f:
            source_bytes = f.read()
    except OSError as e:
        return ["mismatch", f"cannot be read: {e.strerror or e}"]
    if check_hash and importlib.util.source_hash(source_bytes) != data[8:16]:
        return ["stale", ""]
    body = data[16:]
    try:
        loaded = marshal.loads(body)  # noqa: S302 - what import would load; in this process only
    except Exception as e:  # anything marshal raises on bad data
        return ["mismatch", f"not valid marshalled code ({type(e).__name__})"]
    if not isinstance(loaded, types.CodeType):
        return ["mismatch", f"holds a {type(loaded).__name__}, not a code object"]
    try:
        compiled = compile(
            source_bytes, loaded.co_filename, "exec", dont_inherit=True, optimize=optimize
        )
    except Exception as e:  # SyntaxError, ValueError (NUL in a name), RecursionError, ...
        return ["mismatch", f"the source does not compile ({type(e).__name__})"]
    if marshal.dumps(compiled) == body or marshal.dumps(compiled, 2) == marshal.dumps(loaded, 2):
        return [
            "match",
            "",
            hashlib.sha256(source_bytes).hexdigest(),
            hashlib.sha256(data).hexdigest(),
        ]
    return ["mismatch", "its code differs from the source compiled again"]


def main() -> None:
    warnings.simplefilter("ignore")  # SyntaxWarnings of the sources: not ours to report
    if sys.argv[1:] == ["hello"]:
        tag = sys.implementation.cache_tag
        version = f"{sys.implementation.name} {sys.version}"
        print(json.dumps([tag, importlib.util.MAGIC_NUMBER.hex(), version]))
        return
    jobs = json.loads(sys.stdin.buffer.read())
    out = sys.stdout
    for pyc, source, optimize, check_hash in jobs:
        out.write(json.dumps(check(pyc, source, optimize, check_hash)) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
