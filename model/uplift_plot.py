"""The Qini plot: incremental retained customers by share targeted, for several rankings.

Training logs it to MLflow and the report shows it, from the curves the uplift model's card
keeps (``qini_curves``: name -> heights at evenly spaced shares of the held-out customers).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from core.names import RANDOM, plain_name


def downsample(curve: np.ndarray, points: int = 101) -> list[float]:
    """A Qini curve (k = 0..N) at ``points`` evenly spaced shares, for the card and the plot."""
    curve = np.asarray(curve, dtype=np.float64)
    at = np.linspace(0, len(curve) - 1, points)
    return [round(float(v), 6) for v in np.interp(at, np.arange(len(curve)), curve)]


def qini_figure(curves: dict[str, list[float]], *, title: str = "") -> Figure:
    """Incremental retained customers (% of the base) against the share targeted (%)."""
    fig = Figure(figsize=(6.4, 4.2), dpi=100)
    ax = fig.subplots()
    for name, heights in curves.items():
        share = np.linspace(0, 100, len(heights))
        ax.plot(
            share,
            np.asarray(heights) * 100,
            label=plain_name(name),
            linestyle=":" if name == RANDOM else "-",
            color="grey" if name == RANDOM else None,
        )
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xlabel("customers offered, in the order of each ranking (%)")
    ax.set_ylabel("customers retained by the offer (% of all)")
    ax.set_title(title or "Who does the offer move? Qini curves on held-out campaign customers")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    return fig
