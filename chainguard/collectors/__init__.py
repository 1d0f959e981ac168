"""Collectors: look at the world (directories, files, environments) and report what they see."""
