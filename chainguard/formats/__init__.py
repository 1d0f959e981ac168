"""What a file really is (from its bytes) and whether loading it is safe.

`detect` names a file's format from its first bytes; `pickles` analyses pickle streams without
loading them; `gguf` reads a GGUF header; `policy` turns a format and its analysis into findings.
"""
