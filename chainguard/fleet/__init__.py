"""A fleet of attesting hosts and the OCI registry they publish to.

- ``oci``: the registry client (oras-py underneath), bounded and timed out, trusting nothing
  the registry says;
- ``publish``: one signed attestation as an OCI artifact (attest --publish);
- ``status``: each enrolled host's newest attestation, verified under its enrolled key, judged
  fresh, silent, failed or untrusted (pure: fetching is api/fleet.py's);
- ``report``: fleet status as text, ``chainguard.fleet/v1`` JSON and Markdown.
"""
