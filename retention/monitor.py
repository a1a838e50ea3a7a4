"""``retain monitor``: is the model still right? Drift, estimated and realized performance, verdict.

Reads the score history (``serving/score_history.py``): the latest generation's input drift and
score drift against the scoring model's reference (recorded with it), the performance its
probabilities promise if calibrated (``retention/monitor_figures.py``), and, for every past
generation whose horizon has passed, the recorded scores against what customers did, labelled by
``features.labels.make_labels`` (the code training labels with) on the data as it is now, or, for
a labelled export, by the churned flag and value of its rows of the generation's as_of day.
Customers in the treatment arm of a campaign (``retention/ledger.py``) planned within a
generation's horizon are reported apart: their outcome was changed on purpose.

The verdict recommends retraining, each time with its reason, when realized ROC-AUC lies below
the model's test ROC-AUC by more than its interval, when the estimated ROC-AUC falls more than
``monitoring.max_estimated_auc_drop`` below it, when realized calibration bias exceeds the card's
limit, or when inputs (in the whole base, suddenly within one segment, e.g. a region, or jointly:
the domain classifier of ``retention/domain_drift.py``) or the churn probabilities drifted.

A move is drift only when it is both large and unlikely by chance: beyond ``monitoring``'s
thresholds, beyond what the feature moved by itself within the reference months before the test
cutoff (``retention/monitor_reference.py``: seasons, customers ageing), and beyond the PSI two
samples of its sizes show by chance (``model.drift.psi_critical``: a small segment needs more).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.config_file import ConfigFile
from core.errors import DataValidationError
from core.monitoring import MonitoringConfig
from core.schema import AS_OF, ATTRIBUTE_PREFIX, CUSTOMER_ID
from features.labelled import load_snapshots
from features.labels import CHURN, FUTURE_VALUE, make_labels
from features.loading import load_data
from features.prepare import PreparedData, prepare
from model.drift import Drift, FeatureSketch, drift, frame_drift, psi, psi_critical
from retention.domain_drift import DomainDrift, domain_drift
from retention.ledger import Ledger
from retention.monitor_figures import Realized, expected_roc_auc, realized
from retention.monitor_reference import ReferenceMonths, Spread, active_features, reference_months
from serving.score_history import CHURN as PROBABILITY
from serving.score_history import VALUE, GenerationRecord, ScoreHistory
from serving.sql_store import shown

RETRAIN = "retrain recommended"
STILL_RIGHT = "no retraining needed"


@dataclass(frozen=True)
class Reason:
    """One reason to retrain: which rule fired, in plain words."""

    rule: str
    """``realized_auc``, ``estimated_auc``, ``calibration``, ``input_drift``, ``segment_drift``,
    ``multivariate_drift`` or ``score_drift``."""
    text: str


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's drift in the latest generation, and whether it crossed a threshold."""

    feature: str
    psi: float
    js: float
    wasserstein: float | None
    missing_share: float
    psi_step: float | None
    """PSI since the previous generation of the same model (None for the first)."""
    drifted: bool
    psi_limit: float
    """The PSI beyond which it counts as away from the reference: the configured threshold, the
    most it moved within the reference months, or the PSI of chance, whichever is largest."""
    js_limit: float
    step_limit: float | None
    """The step PSI beyond which it moved suddenly (same rule; None for the first generation)."""


@dataclass(frozen=True)
class SegmentDrift:
    """A feature that moved suddenly within one segment since the previous generation."""

    segment: str
    """E.g. ``region = north``."""
    customers: int
    feature: str
    psi_step: float


@dataclass(frozen=True)
class Treated:
    """The customers of a generation a campaign treated within its horizon, apart."""

    customers: int
    predicted_churn: float
    actual_churn: float


@dataclass(frozen=True)
class RealizedGeneration:
    """A past generation's realized figures (untreated customers), and its treated apart."""

    generation_id: str
    as_of: str
    horizon_end: str
    models: dict[str, str]
    figures: Realized
    treated: Treated | None
    unlabelled: int
    """Scored customers the labels do not cover (e.g. gone from the data), left out."""


@dataclass(frozen=True)
class MultivariateDrift:
    """The domain classifier on the latest generation against the reference, and its own null:
    the same classifier on reference months (seasons and ageing the model was trained with)."""

    current: DomainDrift
    months: dict[str, float]
    """ROC-AUC of each reference month kept (a year before the generation, the earliest)."""
    limit: float
    """``monitoring.domain_auc_threshold`` or the highest month's ROC-AUC, whichever is larger."""
    step: DomainDrift | None
    """The same classifier against the previous generation of the same model (None without)."""
    drifted: bool
    """The current ROC-AUC's interval lies wholly above ``limit`` and, once a previous
    generation exists, the step's wholly above ``domain_auc_threshold`` (a sudden move, as for
    each feature)."""


@dataclass
class MonitorResult:
    """Everything ``retain monitor`` shows, and the verdict."""

    generation_id: str
    as_of: str
    customers: int
    models: dict[str, str]
    card: dict[str, Any]
    drift: list[FeatureDrift]
    segments: list[SegmentDrift]
    """Features that moved past ``psi_threshold`` within a segment since the previous
    generation (in segments where enough did: ``segment_drift``), most moved first."""
    score_drift: Drift | None
    score_step: float | None
    """The churn probability's PSI since the previous generation of the same model."""
    tier_shares: dict[str, float]
    estimated: dict[str, float]
    realized: list[RealizedGeneration]
    reference_months: list[str] = field(default_factory=list)
    """Month ends rebuilt before the test cutoff (``retention/monitor_reference.py``)."""
    multivariate: MultivariateDrift | None = None
    reasons: list[Reason] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return RETRAIN if self.reasons else STILL_RIGHT

    @property
    def moved(self) -> list[str]:
        """The drifted features, most moved first (in the whole base, then within segments)."""
        named = [d.feature for d in self.drift if d.drifted]
        joint = (
            [s.feature for s in self.multivariate.current.separating[:3]]
            if self.multivariate is not None and self.multivariate.drifted
            else []
        )
        return list(dict.fromkeys([*named, *(s.feature for s in self.segments), *joint]))

    def as_json(self) -> dict[str, Any]:
        """Every figure, JSON-ready (a figure that cannot be computed is null)."""
        out = asdict(self)
        out["score_drift"] = self.score_drift.model_dump() if self.score_drift else None
        out["verdict"] = self.verdict
        out["moved_features"] = self.moved
        return _no_nan(out)

    def lines(self) -> list[str]:
        """The plain-text table of ``retain monitor``."""
        test_auc = self.card.get("roc_auc")
        out = [
            f"latest generation {self.generation_id}: as of {self.as_of}, "
            f"{self.customers:,} customers, models "
            + ", ".join(f"{k} {v}" for k, v in sorted(self.models.items())),
            "",
            "input drift against the model's reference (its test cutoff "
            f"{self.card.get('test_cutoff')}), most moved first:",
            f"  {'feature':<28}{'PSI':>7}{'limit':>7}{'JS':>7}{'Wass.':>7}{'missing':>8}"
            f"{'step':>7}{'limit':>7}",
        ]
        for d in self.drift[:10]:
            wass = "" if d.wasserstein is None else f"{d.wasserstein:.2f}"
            step = "" if d.psi_step is None else f"{d.psi_step:.3f}"
            step_limit = "" if d.step_limit is None else f"{d.step_limit:.3f}"
            out.append(
                f"  {d.feature:<28}{d.psi:>7.3f}{d.psi_limit:>7.3f}{d.js:>7.3f}{wass:>7}"
                f"{d.missing_share:>8.1%}{step:>7}{step_limit:>7}"
                + ("  DRIFTED" if d.drifted else "")
            )
        if len(self.drift) > 10:
            out.append(f"  ... and {len(self.drift) - 10} more (--json lists every one)")
        for seg in self.segments[:10]:
            out.append(
                f"  within {seg.segment} ({seg.customers:,} customers): {seg.feature} moved "
                f"since the previous generation, PSI {seg.psi_step:.3f}  DRIFTED"
            )
        if self.reference_months:
            out.append(
                f"  limits include how far each feature moved within the {len(self.reference_months)}"
                f" reference months {self.reference_months[0]} to {self.reference_months[-1]}"
            )
        if self.multivariate is not None:
            m = self.multivariate
            null = ", ".join(f"{day} {auc:.3f}" for day, auc in m.months.items())
            out.append(
                f"multivariate (domain classifier, latest vs reference): {m.current.text()}; "
                f"limit {m.limit:.3f}"
                + (f" (reference months: {null})" if null else "")
                + (
                    ""
                    if m.step is None
                    else f"; vs the previous generation: ROC-AUC {m.step.roc_auc.text()}"
                )
                + ("  DRIFTED" if m.drifted else "")
            )
        if self.score_drift is not None:
            out.append(
                f"churn probability vs the test predictions: PSI {self.score_drift.psi:.3f}, "
                f"JS {self.score_drift.js:.3f}"
                + (
                    ""
                    if self.score_step is None
                    else f"; since the previous generation: PSI {self.score_step:.3f}"
                )
            )
        out.append("risk tiers: " + ", ".join(f"{t} {s:.1%}" for t, s in self.tier_shares.items()))
        auc_text = "" if test_auc is None else f" (test {test_auc:.3f})"
        out += [
            "",
            f"estimated before labels (if calibrated): churn rate "
            f"{self.estimated['churn_rate']:.1%}, ROC-AUC "
            f"{self.estimated['roc_auc']:.3f}{auc_text}",
            "",
            "realized (generations whose horizon has passed; treated customers apart):",
        ]
        if not self.realized:
            out.append("  none yet: no recorded generation's horizon has passed in the data")
        for r in self.realized:
            f = r.figures
            treated = (
                f"; treated {r.treated.customers:,}: predicted {r.treated.predicted_churn:.1%}"
                f" vs actual {r.treated.actual_churn:.1%}"
                if r.treated
                else ""
            )
            out.append(
                f"  {r.as_of} (to {r.horizon_end}): {f.customers:,} customers, churn predicted "
                f"{f.predicted_churn:.1%} vs actual {f.actual_churn:.1%}, bias "
                f"{f.calibration_bias.text('+.3f')}, ROC-AUC {f.roc_auc.text()}, CLV Gini "
                f"{f.clv_gini.text()}, CLV bias {f.clv_bias.text('+.1%')}{treated}"
            )
        out += ["", *self.notes, f"verdict: {self.verdict}"]
        out += [f"  - {r.text}" for r in self.reasons]
        return out


def _no_nan(value: Any) -> Any:
    """``value`` with every float nan replaced by None (strict JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nan(v) for v in value]
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def _bins(sketch: FeatureSketch) -> int:
    """Bins a sketch is compared on: the reference's, plus one for missing values."""
    return (len(sketch.counts) if sketch.kind == "numeric" else len(sketch.categories)) + 1


def feature_drift(
    record: GenerationRecord,
    previous: GenerationRecord | None,
    settings: MonitoringConfig,
    spread: dict[str, Spread] | None = None,
    reference_rows: int | None = None,
) -> list[FeatureDrift]:
    """The latest generation's drift per feature, drifted ones first, then by PSI.

    Against the model's reference a feature drifted when its PSI or Jensen-Shannon distance
    crosses its limit: ``monitoring``'s threshold or ``spread`` (the most it moved within the
    reference months), whichever is larger, and its PSI is beyond chance for the rows compared
    (``psi_critical``; ``reference_rows`` None: as many as the generation). Once a previous
    generation of the same model exists, it must also have moved suddenly since that one, by the
    same rule (``psi_step_threshold``, the months' largest step, chance).
    """
    steps = frame_drift(record.features, previous.features) if previous else {}
    moved = record.feature_drift()
    tests, alpha = max(len(moved), 1), settings.drift_alpha
    rows = []
    for name, d in moved.items():
        sketch = record.features[name]
        own = (spread or {}).get(name, Spread(0.0, 0.0, 0.0))
        chance = psi_critical(
            sketch.rows, reference_rows or sketch.rows, _bins(sketch), alpha=alpha, tests=tests
        )
        psi_limit = max(settings.psi_threshold, own.psi, chance)
        js_limit = max(settings.js_threshold, own.js)
        away = (d.psi > psi_limit or d.js > js_limit) and d.psi > chance
        step = steps[name].psi if name in steps else None
        step_limit = None
        if previous is not None and name in previous.features:
            before = previous.features[name].rows
            step_chance = psi_critical(sketch.rows, before, _bins(sketch), alpha=alpha, tests=tests)
            step_limit = max(settings.psi_step_threshold, own.step, step_chance)
        sudden = previous is None or (
            step is not None and step_limit is not None and step > step_limit
        )
        rows.append(
            FeatureDrift(
                feature=name,
                psi=d.psi,
                js=d.js,
                wasserstein=d.wasserstein,
                missing_share=d.missing_share,
                psi_step=step,
                drifted=away and sudden,
                psi_limit=psi_limit,
                js_limit=js_limit,
                step_limit=step_limit,
            )
        )
    return sorted(rows, key=lambda d: (not d.drifted, -d.psi))


def segment_drift(
    record: GenerationRecord,
    previous: GenerationRecord | None,
    settings: MonitoringConfig,
    months: ReferenceMonths | None = None,
) -> list[SegmentDrift]:
    """Features that moved past ``psi_threshold`` within a segment since ``previous`` (both
    binned on the same model's reference, so the PSI is exact), past the PSI of chance for the
    segment's customers in both (``psi_critical``, over every segment and feature compared) and
    past the most they moved within that segment over as long in the reference ``months`` (its
    own seasons; the whole base's when the months lack the segment), in the segments where at
    least ``min_segment_features`` did, most moved first."""
    if previous is None:
        return []
    now, before = record.drift.get("segments", {}), previous.drift.get("segments", {})
    compared = []
    for column, levels in now.items():
        for level, features in levels.items():
            old = before.get(column, {}).get(level, {})
            rows = min((sum(c) for c in (*features.values(), *old.values())), default=0)
            if rows < settings.min_segment_rows:
                continue
            label = f"{column.removeprefix(ATTRIBUTE_PREFIX)} = {level}"
            compared += [
                (label, counts, old[f], f, (column, level, f))
                for f, counts in features.items()
                if f in old
            ]
    found = []
    for label, counts, old_counts, feature, key in compared:
        chance = psi_critical(
            sum(counts),
            sum(old_counts),
            len(counts),
            alpha=settings.drift_alpha,
            tests=len(compared),
        )
        step = psi(counts, old_counts)
        own = 0.0
        if months is not None:
            base = months.spread.get(feature)
            own = months.segment_steps.get(key, base.step if base else 0.0)
        if step > max(settings.psi_threshold, chance, own):
            found.append(SegmentDrift(label, sum(counts), feature, step))
    counts = Counter(s.segment for s in found)
    kept = [s for s in found if counts[s.segment] >= settings.min_segment_features]
    return sorted(kept, key=lambda s: -s.psi_step)


def score_step(record: GenerationRecord, previous: GenerationRecord | None) -> float | None:
    """The churn probability's PSI since ``previous`` (None without one)."""
    if previous is None:
        return None
    now, before = (FeatureSketch.model_validate(g.scores[PROBABILITY]) for g in (record, previous))
    return drift(now, before).psi


def previous_of(generations: list[GenerationRecord]) -> GenerationRecord | None:
    """The generation before the last one, if the same churn model scored it."""
    if len(generations) < 2:
        return None
    last, before = generations[-1], generations[-2]
    same = before.model_versions.get("churn") == last.model_versions.get("churn")
    return before if same and before.as_of < last.as_of else None


def treated_ids(ledger: Ledger, start: dt.date, end: dt.date) -> set[str]:
    """Customers in the treatment arm of a campaign planned as of a day in ``[start, end)``."""
    ids: set[str] = set()
    for campaign in ledger.campaigns():
        if campaign.as_of is not None and start <= campaign.as_of < end:
            _, customers = ledger.campaign(campaign.campaign_id)
            ids.update(customers.loc[customers["arm"] == 1, CUSTOMER_ID])
    return ids


def realized_generation(
    record: GenerationRecord,
    scores: pd.DataFrame,
    labels: pd.DataFrame,
    treated: set[str],
    settings: MonitoringConfig,
    seed: int,
) -> RealizedGeneration:
    """One past generation's recorded scores against the labels of its horizon."""
    joined = scores.join(labels, on=CUSTOMER_ID, how="inner")
    is_treated = joined[CUSTOMER_ID].isin(treated).to_numpy()
    apart = joined.loc[is_treated]
    kept = joined.loc[~is_treated]
    figures = realized(
        kept[CHURN].to_numpy(dtype=float),
        kept[PROBABILITY].to_numpy(dtype=float),
        kept[FUTURE_VALUE].to_numpy(dtype=float),
        kept[VALUE].to_numpy(dtype=float),
        replicates=settings.bootstrap,
        seed=seed,
    )
    return RealizedGeneration(
        generation_id=record.generation_id,
        as_of=record.as_of.isoformat(),
        horizon_end=record.horizon_end.isoformat(),
        models=record.model_versions,
        figures=figures,
        treated=(
            Treated(
                customers=len(apart),
                predicted_churn=float(apart[PROBABILITY].mean()),
                actual_churn=float(apart[CHURN].mean()),
            )
            if len(apart)
            else None
        ),
        unlabelled=len(scores) - len(joined),
    )


def reasons(result: MonitorResult, settings: MonitoringConfig) -> list[Reason]:
    """The retraining rule: every rule that fired, each with its reason in plain words."""
    out = []
    test_auc = result.card.get("roc_auc")
    limit = result.card.get("calibration_limit")
    if result.realized:
        last = result.realized[-1]
        auc = last.figures.roc_auc
        if test_auc is not None and auc.high < test_auc:
            out.append(
                Reason(
                    "realized_auc",
                    f"realized ROC-AUC of the {last.as_of} scores is {auc.text()}, below the "
                    f"model's test {test_auc:.3f} by more than its interval",
                )
            )
        bias = last.figures.calibration_bias
        if limit is not None and abs(bias.value) > limit and not bias.low <= 0 <= bias.high:
            words = "over" if bias.value > 0 else "under"
            out.append(
                Reason(
                    "calibration",
                    f"the {last.as_of} scores {words}-predicted churn by "
                    f"{abs(bias.value):.1%} points ({last.figures.predicted_churn:.1%} predicted, "
                    f"{last.figures.actual_churn:.1%} actual), beyond the {limit:.0%} limit",
                )
            )
    estimated = result.estimated["roc_auc"]
    if test_auc is not None and estimated < test_auc - settings.max_estimated_auc_drop:
        out.append(
            Reason(
                "estimated_auc",
                f"the latest scores promise a ROC-AUC of {estimated:.3f}, more than "
                f"{settings.max_estimated_auc_drop:.2f} below the model's test {test_auc:.3f}",
            )
        )
    moved = [d for d in result.drift if d.drifted]
    if len(moved) >= settings.min_drifted_features:
        named = ", ".join(f"{d.feature} (PSI {d.psi:.2f})" for d in moved[:5])
        more = f" and {len(moved) - 5} more" if len(moved) > 5 else ""
        out.append(
            Reason(
                "input_drift",
                f"{len(moved)} input feature(s) moved away from the model's reference: "
                f"{named}{more}",
            )
        )
    by_segment: dict[str, list[SegmentDrift]] = {}
    for seg in result.segments:
        by_segment.setdefault(seg.segment, []).append(seg)
    for name, here in by_segment.items():
        named = ", ".join(f"{s.feature} (PSI {s.psi_step:.2f})" for s in here[:5])
        out.append(
            Reason(
                "segment_drift",
                f"within {name} ({here[0].customers:,} customers), {len(here)} features moved "
                f"suddenly since the previous generation: {named}",
            )
        )
    if result.multivariate is not None and result.multivariate.drifted:
        m = result.multivariate
        named = "; ".join(s.words for s in m.current.separating[:3])
        out.append(
            Reason(
                "multivariate_drift",
                f"a classifier tells the latest customers from the reference's with ROC-AUC "
                f"{m.current.roc_auc.text()}, above {m.limit:.3f} (the threshold, or what the "
                "reference months reached)"
                + (
                    ""
                    if m.step is None
                    else f", and from the previous generation's with {m.step.roc_auc.text()}"
                )
                + f"; it separates them most by: {named}",
            )
        )
    step = result.score_step
    sudden = step is None or step > settings.psi_step_threshold
    if (
        result.score_drift is not None
        and result.score_drift.psi > settings.psi_threshold
        and sudden
    ):
        out.append(
            Reason(
                "score_drift",
                f"the churn probabilities moved away from the model's test predictions "
                f"(PSI {result.score_drift.psi:.2f} > {settings.psi_threshold})",
            )
        )
    return out


@dataclass(frozen=True)
class Outcomes:
    """What customers did, as the data tells it now: a prepared transaction log (labelled by
    ``make_labels``, as training labels) or a labelled export's rows (its churned flag and value
    per as_of day, as training reads them)."""

    prep: PreparedData | None
    snapshots: pd.DataFrame | None
    end: dt.date
    """Outcomes are known for generations whose horizon ends by this day (a log's last day)."""

    def labels(self, record: GenerationRecord, end: dt.date) -> pd.DataFrame | None:
        """Churn and future value of ``record``'s customers by id, as known by day ``end``;
        None when not known yet."""
        if self.prep is not None:
            if record.horizon_end > end:
                return None
            labels, _ = make_labels(
                self.prep,
                pd.Timestamp(record.as_of),
                record.horizon_days,
                active_days=None if record.contractual else record.active_days,
                contractual=record.contractual,
            )
            return labels
        assert self.snapshots is not None
        rows = self.snapshots.loc[self.snapshots[AS_OF].dt.date == record.as_of]
        if rows.empty or record.as_of > end:
            return None
        return rows.set_index(CUSTOMER_ID)[[CHURN, FUTURE_VALUE]]


def own_months(
    outcomes: Outcomes,
    record: GenerationRecord,
    previous: GenerationRecord | None,
    settings: MonitoringConfig,
) -> ReferenceMonths | None:
    """The scoring model's reference months rebuilt from the log (``monitor_reference``), their
    steps as many months apart as ``previous`` lies before ``record``; None for a labelled
    export, without a recorded test cutoff, or with ``reference_months`` 0."""
    lag = 1 if previous is None else max(1, round((record.as_of - previous.as_of).days / 30.44))
    cutoff = record.drift.get("card", {}).get("test_cutoff")
    if outcomes.prep is None or not cutoff or not settings.reference_months:
        return None
    return reference_months(
        outcomes.prep,
        dt.date.fromisoformat(str(cutoff)),
        list(record.feature_drift()),
        months=settings.reference_months,
        active_days=record.active_days,
        contractual=record.contractual,
        keep=[record.as_of - dt.timedelta(days=365)],
        lag=lag,
    )


def multivariate(
    prep: PreparedData,
    record: GenerationRecord,
    scored: set[str],
    months: ReferenceMonths,
    settings: MonitoringConfig,
    seed: int,
    previous: tuple[GenerationRecord, set[str]] | None = None,
) -> MultivariateDrift:
    """The domain classifier on ``record``'s scored customers (rebuilt from the log as of its
    day) against the reference, with the reference months' own ROC-AUC as its null; and, given
    the ``previous`` generation of the same model and its customers, against those."""
    columns = list(months.reference.columns)

    def rows(generation: GenerationRecord, ids: set[str]) -> pd.DataFrame:
        frame = active_features(
            prep,
            pd.Timestamp(generation.as_of),
            columns,
            active_days=generation.active_days,
            contractual=generation.contractual,
        )
        return frame.loc[frame.index.isin(ids)]

    current = rows(record, scored)
    kwargs = {"max_rows": settings.domain_max_rows, "seed": seed}
    found = domain_drift(months.reference, current, **kwargs)
    null = {
        day: domain_drift(months.reference, frame, **kwargs).roc_auc.value
        for day, frame in sorted(months.kept.items())
    }
    limit = max([settings.domain_auc_threshold, *(a for a in null.values() if not np.isnan(a))])
    step = None if previous is None else domain_drift(rows(*previous), current, **kwargs)
    sudden = step is None or bool(step.roc_auc.low > settings.domain_auc_threshold)
    return MultivariateDrift(found, null, limit, step, bool(found.roc_auc.low > limit) and sudden)


def load_outcomes(config: Path) -> Outcomes:
    """The config's data as it is now: the transaction log, or the labelled export's rows."""
    data_config = ConfigFile.read(config).data()
    if data_config.labelled:
        assert data_config.snapshots is not None
        table = load_snapshots(data_config.snapshots, labels=True)
        rows = table.rows.copy()
        if FUTURE_VALUE not in rows:
            rows[FUTURE_VALUE] = np.nan
        rows[AS_OF] = pd.to_datetime(rows[AS_OF])
        rows[CUSTOMER_ID] = rows[CUSTOMER_ID].astype(str)
        return Outcomes(None, rows, rows[AS_OF].max().date())
    data, _ = load_data(data_config)
    prep = prepare(data)
    return Outcomes(prep, None, prep.date_range[1].date())


def monitor(
    config: Path, *, history: ScoreHistory | None = None, generation_id: str | None = None
) -> MonitorResult:
    """The monitor's result for the workspace's latest recorded generation (module docstring);
    ``generation_id``: for that generation instead, as the monitor saw it on its as-of day."""
    file = ConfigFile.read(config)
    settings, seed = file.monitoring(), int(file.experiment().seed)
    history = history or ScoreHistory()
    generations = history.generations()
    if not generations:
        raise DataValidationError(
            f"the score history at {shown(history.url)} has no generation yet: run `retain score` "
            "first (each run is recorded)"
        )
    if generation_id is not None:
        known = [g.generation_id for g in generations]
        if generation_id not in known:
            raise DataValidationError(
                f"no generation {generation_id!r} in the score history at {shown(history.url)}; "
                f"recorded: {', '.join(known[-5:])} (`retain history` shows them all)"
            )
        generations = generations[: known.index(generation_id) + 1]
    latest, previous = generations[-1], previous_of(generations)
    latest_scores = history.scores(latest.generation_id)
    probability = latest_scores[PROBABILITY].to_numpy(dtype=float)
    outcomes = load_outcomes(config)
    months = own_months(outcomes, latest, previous, settings)
    result = MonitorResult(
        generation_id=latest.generation_id,
        as_of=latest.as_of.isoformat(),
        customers=latest.customers,
        models=latest.model_versions,
        card=latest.drift.get("card", {}),
        drift=feature_drift(
            latest,
            previous,
            settings,
            months.spread if months else None,
            len(months.reference) if months else None,
        ),
        segments=segment_drift(latest, previous, settings, months),
        score_drift=latest.prediction_drift(),
        score_step=score_step(latest, previous),
        tier_shares=latest.scores.get("tier_shares", {}),
        estimated={
            "churn_rate": float(probability.mean()) if len(probability) else float("nan"),
            "roc_auc": expected_roc_auc(probability),
        },
        realized=[],
    )
    if months is not None:
        assert outcomes.prep is not None
        result.reference_months = months.days
        before = (
            None
            if previous is None
            else (previous, set(history.scores(previous.generation_id)[CUSTOMER_ID]))
        )
        result.multivariate = multivariate(
            outcomes.prep, latest, set(latest_scores[CUSTOMER_ID]), months, settings, seed, before
        )
    elif settings.reference_months and outcomes.prep is None:
        result.notes.append(
            "the reference months and the domain classifier are rebuilt from a transaction log: "
            "a labelled export's drift is judged on the thresholds and chance alone"
        )
    end = outcomes.end
    if generation_id is not None:  # as the monitor saw it then
        end = min(end, latest.as_of)
    ledger = Ledger()
    waiting = 0
    for g in generations:
        labels = outcomes.labels(g, end)
        if labels is None:
            waiting += 1
            continue
        treated = treated_ids(ledger, g.as_of, g.horizon_end)
        result.realized.append(
            realized_generation(g, history.scores(g.generation_id), labels, treated, settings, seed)
        )
    if waiting:
        what = "the data" if outcomes.prep is not None else "the export's labelled rows"
        result.notes.append(
            f"{waiting} generation(s) wait for their outcomes in {what} (known to {end})"
        )
    if result.card.get("roc_auc") is not None and not np.isnan(result.estimated["roc_auc"]):
        bias = result.realized[-1].figures.calibration_bias.value if result.realized else None
        limit = result.card.get("calibration_limit")
        if bias is not None and limit is not None and abs(bias) > limit:
            result.notes.append(
                "caveat: the estimates assume calibrated probabilities, and the last realized "
                f"calibration bias is {bias:+.1%}: read them warily"
            )
    result.reasons = reasons(result, settings)
    return result


def record_verdict(result: MonitorResult, history: ScoreHistory | None = None) -> None:
    """Record ``result``'s verdict in the score history, where the service reads the last one
    for /metrics (``retain_monitor_retrain_recommended``)."""
    (history or ScoreHistory()).record_verdict(
        result.generation_id, bool(result.reasons), [r.rule for r in result.reasons]
    )


__all__ = [
    "RETRAIN",
    "STILL_RIGHT",
    "MonitorResult",
    "MultivariateDrift",
    "Reason",
    "monitor",
    "record_verdict",
]
