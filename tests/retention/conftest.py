"""Fixtures of the retention tests: the session's batch scores and packaged models, as serving's."""

from tests.serving.conftest import local_scorer, scores

__all__ = ["local_scorer", "scores"]
