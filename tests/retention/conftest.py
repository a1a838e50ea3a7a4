"""Fixtures of the retention tests: the session's batch scores, shared with the serving tests."""

from tests.serving.conftest import scores

__all__ = ["scores"]
