"""Named errors for user mistakes; the CLI prints their message without a traceback."""

from __future__ import annotations


class RetainError(Exception):
    """Base of the errors a user can fix: the message says what was wrong and what to change."""


class DataValidationError(RetainError, ValueError):
    """Input data cannot be used as given (missing column, unusable rows under --strict, ...)."""


class ConfigError(RetainError, ValueError):
    """An experiment or command configuration is invalid."""


class CutoffError(RetainError, ValueError):
    """A cutoff or horizon does not fit the data's date range."""


class LeakageError(DataValidationError):
    """A feature gives a label away on the training rows (training stops before any fit)."""
