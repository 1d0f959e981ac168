"""CycloneDX SBOM: build it from an inventory, read it back into the expected state."""
