"""A module that fails while being imported (tests/test_cli.py)."""

raise RuntimeError("boom at import")
