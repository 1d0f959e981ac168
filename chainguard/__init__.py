"""chainguard: verify AI deployments (models, datasets, dependencies) against a signed SBOM."""

__version__ = "0.1.0"
