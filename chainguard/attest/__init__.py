"""The cron side of chainguard: what a periodic run on an inference host signs, remembers and
tells.

- ``vsa``: the SLSA Verification Summary Attestation (in-toto Statement v1) of one run;
- ``log``: the tamper-evident attestation log in the state directory (a hash chain of signed
  entries in SQLite) and its verification;
- ``drift``: what changed since the previous run (pure);
- ``metrics``: Prometheus text for node_exporter's textfile collector;
- ``webhook``: delivering signed attestations, bounded and never silently dropped.
"""
