"""The ``monitoring`` config section: when `retain monitor` calls drift, and how much history stays.

Typed here, at the bottom, so the score history (``serving/score_history.py``), the monitor
(``retention/monitor.py``) and ``retain retrain`` read one set of thresholds.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MonitoringConfig(BaseModel):
    """Drift thresholds, the bootstrap of realized performance, and the history's size."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    psi_threshold: float = Field(
        0.25,
        gt=0,
        description="A feature (or the churn probability) has drifted when its population "
        "stability index against the model's reference exceeds this (0.25: a major shift).",
    )
    psi_step_threshold: float = Field(
        0.15,
        gt=0,
        description="A feature (or the churn probability) moved suddenly when its PSI since the "
        "previous generation of the same model exceeds this; only sudden moves count as drift "
        "once a previous generation exists (slow ones, such as the seasons the training data "
        "already spans, show in the realized performance instead).",
    )
    js_threshold: float = Field(
        0.2,
        gt=0,
        le=1,
        description="A feature also counts as drifted when its Jensen-Shannon distance (base 2, "
        "0 to 1) from the reference exceeds this (0.2 is about a PSI of 0.22).",
    )
    min_drifted_features: int = Field(
        1,
        ge=1,
        description="Input drift recommends retraining when at least this many features drifted.",
    )
    min_segment_rows: int = Field(
        100,
        ge=10,
        description="A segment (one level of a text attribute, e.g. a region) is checked for a "
        "sudden move (PSI since the previous generation over psi_threshold) when it has at "
        "least this many customers in both generations.",
    )
    min_segment_features: int = Field(
        3,
        ge=1,
        description="Segment drift recommends retraining when at least this many features moved "
        "suddenly within one segment (one feature alone is often noise in a small segment).",
    )
    max_estimated_auc_drop: float = Field(
        0.05,
        gt=0,
        lt=0.5,
        description="Recommend retraining when the ROC-AUC expected from the latest scores falls "
        "this far below the model's test ROC-AUC.",
    )
    drift_alpha: float = Field(
        0.01,
        gt=0,
        lt=0.5,
        description="A move counts only when two samples of one distribution would show it with "
        "less than this chance, all features (or segments and features) of a check together: "
        "a small segment needs a larger PSI than the whole base.",
    )
    reference_months: int = Field(
        12,
        ge=0,
        le=36,
        description="Month ends before the model's test cutoff whose features `retain monitor` "
        "rebuilds from the data: how far each feature (and the domain classifier) moved within "
        "the period the model was trained on (seasons, customers ageing) is not drift; 0 "
        "compares with the thresholds alone.",
    )
    domain_auc_threshold: float = Field(
        0.6,
        gt=0.5,
        lt=1,
        description="Multivariate drift: a classifier told apart the latest generation's "
        "customers from the reference's with a cross-validated ROC-AUC whose interval lies above "
        "this (and above what the reference months reached).",
    )
    domain_max_rows: int = Field(
        3000,
        ge=200,
        description="Rows per side the domain classifier reads at most (a seeded sample).",
    )
    keep_generations: int = Field(
        60,
        ge=2,
        description="Score generations kept in the history; older ones are removed when a new "
        "one is recorded (`retain history prune` removes them on demand).",
    )
    bootstrap: int = Field(
        200, ge=20, description="Bootstrap replicates of each realized figure's interval."
    )
