"""Targeting policies measured on a randomized campaign, with seeded bootstrap intervals.

Every policy (a score per held-out customer, higher contacted first) gets three figures on the
same customers (``training.uplift_metrics`` defines the first two):

* the **Qini coefficient** (0 is random order, higher is better);
* the **AUUC**, the mean height of the uplift curve;
* the **incremental profit at the budget**: contacting the top ``contacts`` customers, what the
  randomized arms among them say the contact earned,

      contacts x [(mean_T(value) - mean_C(value)) x gross margin - contact cost
                  - offer cost x mean_T(retained)],

  the treated arm's retention being the share who redeem the offer (``model.incremental``).

Intervals come from one bootstrap shared by every policy: each replicate resamples customers
within each arm (the campaign's arm sizes kept) and scores every policy on the *same* resample,
so two policies' replicates are paired and the standard error of their difference is the
standard deviation of its replicates. All replicates of a chunk are computed at once (a sort per
replicate row, cumulative sums along it); the figures on the original rows are the same code with
the identity resample, and equal ``qini_coefficient`` and ``auuc``. Random order's expected
figures on the same resamples (``random_order``) are the trivial policy a first targeting policy
must beat.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.economics import Economics

METRICS = ("qini", "auuc", "profit_at_budget")
"""The figures every policy gets, each with an interval."""
CHUNK = 50
"""Replicates computed at once: bounds memory to ``CHUNK x customers`` per array."""


@dataclass(frozen=True)
class Campaign:
    """Held-out customers of a randomized campaign: outcome, arm, spend, and the budget."""

    retained: np.ndarray
    treated: np.ndarray
    value: np.ndarray
    contacts: int
    economics: Economics

    def __post_init__(self) -> None:
        n = len(self.retained)
        if not (len(self.treated) == len(self.value) == n):
            raise ValueError(
                f"retained, treated and value differ in length: {n}, {len(self.treated)}, "
                f"{len(self.value)}"
            )
        if not 1 <= self.contacts <= n:
            raise ValueError(f"contacts must be between 1 and {n}, got {self.contacts}")


def figures(score: np.ndarray, campaign: Campaign, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Qini, AUUC and profit at the budget of ``score`` for each row of ``rows`` (resamples:
    customer indices, shape (replicates, customers)); one value per replicate."""
    ranked = np.take_along_axis(
        rows, np.argsort(-np.asarray(score, dtype=np.float64)[rows], axis=1, kind="stable"), axis=1
    )
    ys = campaign.retained[ranked].astype(np.float64)
    ts = campaign.treated[ranked].astype(bool)
    vs = campaign.value[ranked].astype(np.float64)
    n = ys.shape[1]
    n_t, n_c = np.cumsum(ts, axis=1), np.cumsum(~ts, axis=1)
    y_t, y_c = np.cumsum(ys * ts, axis=1), np.cumsum(ys * ~ts, axis=1)
    scaled = np.divide(y_c * n_t, n_c, out=np.zeros(ys.shape), where=n_c > 0)
    curve = (y_t - scaled) / n
    qini = np.mean(curve - curve[:, -1:] * np.arange(1, n + 1) / n, axis=1)
    mean_t = np.divide(y_t, n_t, out=np.zeros(ys.shape), where=n_t > 0)
    mean_c = np.divide(y_c, n_c, out=np.zeros(ys.shape), where=n_c > 0)
    lift = np.where((n_t > 0) & (n_c > 0), mean_t - mean_c, 0.0)
    auuc = np.mean(lift * np.arange(1, n + 1) / n, axis=1)
    k = campaign.contacts
    top_t, top_c = n_t[:, k - 1], n_c[:, k - 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        value_lift = (vs[:, :k] * ts[:, :k]).sum(axis=1) / top_t - (vs[:, :k] * ~ts[:, :k]).sum(
            axis=1
        ) / top_c
        redeemed = y_t[:, k - 1] / top_t
    e = campaign.economics
    profit = k * (value_lift * e.gross_margin - e.contact_cost - e.offer_cost * redeemed)
    profit = np.where((top_t > 0) & (top_c > 0), profit, np.nan)
    return {"qini": qini, "auuc": auuc, "profit_at_budget": profit}


def random_order(campaign: Campaign, rows: np.ndarray) -> dict[str, np.ndarray]:
    """What random order is expected to score on each resample: Qini 0, the AUUC of the whole
    campaign's lift, and the profit at the budget of contacts drawn at random, ``contacts / n``
    of the profit of contacting everyone (no shuffle's luck in the bar to beat)."""
    ys = campaign.retained[rows].astype(np.float64)
    ts = campaign.treated[rows].astype(bool)
    vs = campaign.value[rows].astype(np.float64)
    n_t, n_c = ts.sum(axis=1), (~ts).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        lift = (ys * ts).sum(axis=1) / n_t - (ys * ~ts).sum(axis=1) / n_c
        value_lift = (vs * ts).sum(axis=1) / n_t - (vs * ~ts).sum(axis=1) / n_c
        redeemed = (ys * ts).sum(axis=1) / n_t
    n = rows.shape[1]
    e = campaign.economics
    profit = campaign.contacts * (
        value_lift * e.gross_margin - e.contact_cost - e.offer_cost * redeemed
    )
    auuc = lift * np.mean(np.arange(1, n + 1) / n)
    return {"qini": np.zeros(len(rows)), "auuc": auuc, "profit_at_budget": profit}


def resamples(treated: np.ndarray, replicates: int, seed: int) -> list[np.ndarray]:
    """Chunks of bootstrap resamples, customers drawn within each arm (arm sizes kept)."""
    rng = np.random.default_rng(seed)
    t = np.asarray(treated).astype(bool)
    arms = [np.flatnonzero(t), np.flatnonzero(~t)]
    chunks = []
    for start in range(0, replicates, CHUNK):
        m = min(CHUNK, replicates - start)
        chunks.append(np.concatenate([rng.choice(a, size=(m, a.size)) for a in arms], axis=1))
    return chunks


@dataclass(frozen=True)
class PolicyFigures:
    """Each policy's figures on all customers and their bootstrap replicates (paired)."""

    point: dict[str, dict[str, float]]
    """policy -> metric -> value on the original customers."""
    replicates: dict[str, dict[str, np.ndarray]]
    """policy -> metric -> one value per replicate (same resamples for every policy)."""
    level: float
    baseline: dict[str, np.ndarray]
    """metric -> random order's expected value on the original customers (first) and on each
    replicate (``random_order``): the trivial policy every other is paired with."""

    def versus_random(self, policy: str, metric: str) -> tuple[float, float, float, float]:
        """``policy``'s gain over random order's expectation on ``metric``: the gain on the
        original customers, its percentile interval and its bootstrap standard error."""
        base = self.baseline[metric]
        gain = self.point[policy][metric] - float(base[0])
        diff = self.replicates[policy][metric] - base[1:]
        finite = diff[np.isfinite(diff)]
        if finite.size * 2 < diff.size or finite.size < 2:
            return gain, float("nan"), float("nan"), float("nan")
        tail = (1 - self.level) / 2
        low, high = np.quantile(finite, [tail, 1 - tail])
        return gain, float(low), float(high), float(finite.std(ddof=1))

    def interval(self, policy: str, metric: str) -> tuple[float, float]:
        """The percentile interval of ``metric`` for ``policy`` (nan when not estimable)."""
        reps = self.replicates[policy][metric]
        finite = reps[np.isfinite(reps)]
        if finite.size * 2 < reps.size:
            return float("nan"), float("nan")
        tail = (1 - self.level) / 2
        low, high = np.quantile(finite, [tail, 1 - tail])
        return float(low), float(high)

    def paired_se(self, a: str, b: str, metric: str) -> float:
        """Bootstrap standard error of ``metric(a) - metric(b)`` (same resamples)."""
        diff = self.replicates[a][metric] - self.replicates[b][metric]
        diff = diff[np.isfinite(diff)]
        return float(diff.std(ddof=1)) if diff.size > 1 else float("nan")

    def record(self, policy: str) -> dict[str, float]:
        """``metric``, ``metric_low`` and ``metric_high`` for every metric of ``policy``."""
        out: dict[str, float] = {}
        for metric in METRICS:
            low, high = self.interval(policy, metric)
            out.update(
                {metric: self.point[policy][metric], f"{metric}_low": low, f"{metric}_high": high}
            )
        return out


def policy_figures(
    scores: dict[str, np.ndarray],
    campaign: Campaign,
    *,
    replicates: int = 1000,
    level: float = 0.95,
    seed: int = 42,
) -> PolicyFigures:
    """Every policy's figures and paired bootstrap replicates on the same customers."""
    identity = np.arange(len(campaign.retained))[None, :]
    point = {
        name: {m: float(v[0]) for m, v in figures(score, campaign, identity).items()}
        for name, score in scores.items()
    }
    chunks = resamples(campaign.treated, replicates, seed)
    reps: dict[str, dict[str, np.ndarray]] = {}
    for name, score in scores.items():
        parts = [figures(score, campaign, rows) for rows in chunks]
        reps[name] = {m: np.concatenate([p[m] for p in parts]) for m in METRICS}
    bases = [random_order(campaign, rows) for rows in [identity, *chunks]]
    baseline = {m: np.concatenate([b[m] for b in bases]) for m in METRICS}
    return PolicyFigures(point, reps, level, baseline)
