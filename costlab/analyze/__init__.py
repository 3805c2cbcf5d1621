"""Analyzers: recommendations with evidence and honest savings (see `costlab.analyze.base`)."""
