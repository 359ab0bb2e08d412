"""Packaged holiday tables, one YAML file per year, typed from the State Council notices."""
