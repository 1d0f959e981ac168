"""Who signed what: keys, DSSE envelopes, in-toto statements and Sigstore bundles."""
