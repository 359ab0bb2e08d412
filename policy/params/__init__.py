"""Packaged, effective-dated rule parameters (YAML). See ``policy.parameters``."""
