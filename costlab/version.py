"""The costlab version (kept equal to pyproject.toml's by tests/test_packaging.py)."""

__version__ = "0.1.0"
