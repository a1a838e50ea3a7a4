"""The served-scores window keeps exactly the last ``size`` values, whether a request wraps it."""

from __future__ import annotations

import numpy as np

from serving.metrics import Window


def test_the_window_holds_the_last_values_across_wraps_and_oversized_adds() -> None:
    window = Window(size=10)
    sent: list[float] = []
    for n in (1, 3, 6, 1, 4, 12, 2, 9, 10, 1):  # fills, wraps, exceeds the size, lands on the end
        chunk = np.arange(len(sent), len(sent) + n, dtype=float)
        window.add(chunk)
        sent += chunk.tolist()
        assert sorted(window.current().tolist()) == sent[-10:]
    assert window.filled == 10
