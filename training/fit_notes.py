"""Warnings raised while fitting a model, turned into one plain line each for the evaluation.

Optimisers in scipy, scikit-learn, LightGBM and our BTYD fitters report trouble through Python
warnings, which print a source path and a line of code to the terminal. A user reads those as a
crash or ignores them. ``captured_warnings`` collects them around one fit instead, and
``warning_line`` says each once, naming the model and without paths, so the training output, the
evaluation and the model card carry the finding and nothing leaks raw.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[\w.~-]*/)+[\w.-]+\.py(?::\d+)?")
_SPACE = re.compile(r"\s+")


def warning_line(model: str, message: warnings.WarningMessage) -> str:
    """One line for a captured warning: model, warning kind, first sentence, no source paths."""
    text = _SPACE.sub(" ", _PATH.sub("", str(message.message))).strip()
    return f"{model}: {message.category.__name__}: {text}"


DEVELOPER_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)
"""Warnings about a library's future API: for retain's developers (the test suite shows them),
not for the user reading the training output."""


@contextmanager
def captured_warnings(model: str, *, deprecations: bool = True) -> Iterator[list[str]]:
    """Collect every warning raised in the block as distinct plain lines (in order).

    The list is filled when the block exits. Only this block's warnings are caught (a local
    ``catch_warnings``, not a global filter), and each distinct line appears once however often
    the optimiser repeated it. ``deprecations=False`` leaves out ``DEVELOPER_WARNINGS``.
    """
    lines: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield lines
    for message in caught:
        if not deprecations and issubclass(message.category, DEVELOPER_WARNINGS):
            continue
        line = warning_line(model, message)
        if line not in lines:
            lines.append(line)
