"""The HTTP contract: typed, described request and response models, with examples the tests import.

A customer to score is given one of two ways: ``features`` (values the caller computed, keyed by
feature name) or raw events (``transactions``, optionally ``interactions``, ``subscriptions`` and
``attributes``) plus ``as_of``, from which the service computes the features with the same code as
training. Bad input is rejected with a 4xx naming the field path and the reason.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonDict

from core.schema import AS_OF, CUSTOMER_ID, SCORE_RANGES, SIGNUP_DATE

FeatureValue = Annotated[float, Strict()] | str | None
"""A number (integers too), a text or null; strict so that ``true`` is an error, not 1.0."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


FIRST_DAY = dt.date(1900, 1, 1)
LAST_DAY = dt.date(2199, 12, 31)
"""Dates the service accepts: inside pandas' nanosecond range with room for horizons and offsets."""
MAX_AMOUNT = 1e12
"""Largest magnitude of a money amount or quantity: sums of 100,000 of them stay finite."""


def _day_in_range(value: dt.date) -> dt.date:
    day = value.date() if isinstance(value, dt.datetime) else value
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(
            f"date {day.isoformat()} is outside the supported range {FIRST_DAY} to {LAST_DAY}"
        )
    return value


Day = Annotated[dt.date, AfterValidator(_day_in_range)]
"""A calendar day between ``FIRST_DAY`` and ``LAST_DAY``."""
Stamp = Annotated[dt.datetime, AfterValidator(_day_in_range)]
"""A timestamp whose day is between ``FIRST_DAY`` and ``LAST_DAY``."""


def _finite(value: float | None, name: str) -> float | None:
    if value is not None and not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    if value is not None and abs(value) > MAX_AMOUNT:
        raise ValueError(
            f"{name} must be between -{MAX_AMOUNT:g} and {MAX_AMOUNT:g}, got {value:g}"
        )
    return value


class TransactionEvent(_Strict):
    """One purchase line or return, as in the transactions table."""

    timestamp: Stamp = Field(description="When; ISO 8601, with or without a UTC offset.")
    amount: float = Field(description="Money of the line; negative for a return.")
    order_id: str | None = Field(None, max_length=128, description="Groups lines into one order.")
    quantity: float | None = Field(None, description="Items; negative for a return.")
    product_id: str | None = Field(None, max_length=128)
    description: str | None = Field(
        None, max_length=512, description="Product description; names a product without an id."
    )
    category: str | None = Field(None, max_length=128)
    country: str | None = Field(None, max_length=128)

    @field_validator("amount", "quantity")
    @classmethod
    def _finite_numbers(cls, value: float | None, info: object) -> float | None:
        return _finite(value, getattr(info, "field_name", "value"))


class InteractionEvent(_Strict):
    """A support ticket or a survey answer."""

    timestamp: Stamp
    type: Literal["ticket", "nps", "csat"] = Field(description="ticket, nps or csat.")
    score: float | None = Field(None, description="NPS 0-10 or CSAT 1-5; empty for tickets.")

    @model_validator(mode="after")
    def _score_in_range(self) -> InteractionEvent:
        _finite(self.score, "score")
        if self.type in SCORE_RANGES:
            low, high = SCORE_RANGES[self.type]
            if self.score is None or not (low <= self.score <= high):
                raise ValueError(
                    f"a {self.type} answer needs a score in [{low:g}, {high:g}], got {self.score}"
                )
        return self


class SubscriptionPeriod(_Strict):
    """One subscription (or plan period) of a contractual customer."""

    start_date: Day
    end_date: Day | None = Field(None, description="Empty while it runs.")
    plan: str | None = Field(None, max_length=64)
    monthly_amount: float | None = None

    @model_validator(mode="after")
    def _ends_after_start(self) -> SubscriptionPeriod:
        if self.end_date is not None and self.end_date < self.start_date:
            raise ValueError(f"end_date {self.end_date} is before start_date {self.start_date}")
        _finite(self.monthly_amount, "monthly_amount")
        return self


class CustomerInput(_Strict):
    """One customer to score: feature values, or raw events with the date to score them as of."""

    customer_id: str = Field(min_length=1, max_length=128, description="Your id for the customer.")
    features: dict[str, FeatureValue] | None = Field(
        None, description="Every model feature by name (null for missing); see POST /model_info."
    )
    as_of: Day | None = Field(None, description="Score as of this day; required with events.")
    transactions: list[TransactionEvent] | None = Field(None, max_length=100_000)
    interactions: list[InteractionEvent] | None = Field(None, max_length=100_000)
    subscriptions: list[SubscriptionPeriod] | None = Field(None, max_length=1_000)
    signup_date: Day | None = None
    attributes: dict[str, FeatureValue] | None = Field(
        None,
        description="Customer attributes such as region or channel (customers table columns); "
        "for a model trained on a CRM snapshots table, the row's columns as the export holds "
        "them (e.g. Contract, tenure, TotalCharges), read with the model's attribute schema.",
    )

    @field_validator("attributes")
    @classmethod
    def _finite_attributes(
        cls, value: dict[str, FeatureValue] | None
    ) -> dict[str, FeatureValue] | None:
        # ``features`` are checked after parsing, for all items at once, in C
        # (``serving.requests.encode_feature_items``): a Python validator per item cost ~2 ms
        # of a 1,000-customer request
        if value and not math.isfinite(sum([v for v in value.values() if type(v) is float])):
            for key, v in value.items():
                if isinstance(v, float) and not math.isfinite(v):
                    raise ValueError(f"attribute {key!r} must be finite or null, got {v}")
        reserved = sorted({CUSTOMER_ID, SIGNUP_DATE, AS_OF} & set(value or {}))
        if reserved:
            raise ValueError(
                f"attributes may not be named {reserved}: those are the customer's own fields"
            )
        return value

    @model_validator(mode="after")
    def _one_way_and_dated(self) -> CustomerInput:
        has_events = any(
            x is not None for x in (self.transactions, self.interactions, self.subscriptions)
        )
        has_raw = has_events or self.attributes is not None
        if self.features is not None and has_raw:
            raise ValueError(
                "give either 'features' or raw data (transactions, ..., attributes), not both"
            )
        if self.features is None and not has_raw:
            raise ValueError(
                "give 'features'; or raw events (transactions, ...) with 'as_of'; or, for a "
                "model trained on a CRM snapshots table, the row's 'attributes' with 'as_of'"
            )
        if has_raw:
            if self.as_of is None:
                raise ValueError("'as_of' is required when scoring from raw events or attributes")
            last_day = self.as_of
            stamps = [
                ("transactions", i, t.timestamp) for i, t in enumerate(self.transactions or [])
            ]
            stamps += [
                ("interactions", i, e.timestamp) for i, e in enumerate(self.interactions or [])
            ]
            for name, i, stamp in stamps:
                # a timestamp with a UTC offset is compared in the business time zone, which
                # only the models know: ``Scorer.features_from_events`` checks those
                if stamp.tzinfo is None and stamp.date() > last_day:
                    raise ValueError(
                        f"{name}[{i}].timestamp {stamp.date()} is after as_of {last_day}: "
                        "only events up to the scoring date may be sent"
                    )
            for i, s in enumerate(self.subscriptions or []):
                if s.start_date > last_day:
                    raise ValueError(
                        f"subscriptions[{i}].start_date {s.start_date} is after as_of {last_day}"
                    )
        return self


ID_RULE = (
    "ids are matched as text, trimmed, and a whole number written with a decimal point "
    "(12347.0, as a number or a text) is read as 12347, as retain reads an export's id column"
)
"""How request ids are normalised (``serving.lookup.normalise_ids``), for the messages."""


def _text_or_number(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(
            f"a customer id is a text or a number, got {type(value).__name__}: {ID_RULE}"
        )
    return value


MAX_NUMERIC_ID = 2**63 - 1
"""Largest magnitude of a numeric customer id: an export's integer id column holds int64."""
CustomerId = Annotated[
    Annotated[str, Field(min_length=1, max_length=128)]
    | Annotated[int, Strict(), Field(ge=-MAX_NUMERIC_ID, le=MAX_NUMERIC_ID)]
    | Annotated[float, Strict(), Field(allow_inf_nan=False)],
    BeforeValidator(_text_or_number),
]
"""A customer id as the export wrote it: a text, or a number for a numeric id column (12347 and
12347.0 find the customer "12347"; ``serving.lookup.normalise_ids``)."""


class Reason(BaseModel):
    """One driver of a score: a feature, its value, and how it moves the churn risk."""

    feature: str
    value: FeatureValue = Field(description="The customer's value of the feature.")
    label: str = Field(
        description="The value in plain words with its unit, e.g. 'no purchase for 133 days' "
        "(from the feature catalogue).",
    )
    contribution: float = Field(
        description="Contribution to the churn log-odds: TreeSHAP (LightGBM) or coefficient x "
        "standardized value (logistic regression)."
    )
    direction: Literal["raises risk", "lowers risk"]


class UpliftReason(BaseModel):
    """One driver of the offer's predicted effect: a feature, its value, and how it moves uplift."""

    feature: str
    value: FeatureValue = Field(description="The customer's value of the feature.")
    label: str = Field(
        description="The value in plain words with its unit (from the feature catalogue)."
    )
    contribution: float = Field(
        description="Exact TreeSHAP contribution to `uplift`, in probability: a customer's "
        "contributions over every feature add up to uplift minus the model's base value "
        "(`uplift.base_value` in /model_info).",
    )
    direction: Literal["raises uplift", "lowers uplift"] = Field(
        description="raises uplift: the offer retains such a customer more; lowers uplift: less "
        "(down to driving them away)."
    )


class ModelVersions(BaseModel):
    churn: str
    clv: str
    uplift: str | None = Field(None, description="The uplift model; null when none is packaged.")


class CustomerScore(BaseModel):
    """Scores for one customer; ``error`` is set (and scores empty) when it could not be scored."""

    customer_id: str
    churn_probability: float | None = Field(None, description="P(churn within the horizon).")
    risk_tier: Literal["high", "medium", "low"] | None = Field(
        None,
        description="high, medium or low by the churn-probability thresholds packaged with the "
        "models (/model_info risk_tiers; default high from 0.6, medium from 0.3).",
    )
    clv: float | None = Field(
        None,
        description="Expected spend over the horizon (unconditional: churners spend ~0); null "
        "for a churn-only package (no CLV model).",
    )
    value_if_staying: float | None = Field(
        None,
        description="Expected spend over the horizon if the customer stays: "
        "clv / max(1 - churn_probability, 0.02); churn-only, the recurring charge x the months "
        "of the horizon; null when value is unknown (see /model_info value_basis).",
    )
    value_at_risk: float | None = Field(
        None,
        description="Gross profit lost if the customer leaves: churn_probability x "
        "value_if_staying x gross margin (the packaged economics'); null when value is unknown.",
    )
    currency: str | None = Field(None, description="Currency of clv and the values.")
    active: bool | None = Field(
        None,
        description="Whether the customer is active by batch scoring's rule (a purchase within "
        "the models' active_days, or a running subscription); false: scored, but `retain "
        "score` leaves this customer out of the base.",
    )
    reasons: list[Reason] = Field(default_factory=list, description="Top drivers of churn risk.")
    uplift: float | None = Field(
        None,
        description="Predicted reduction in churn probability if the customer gets the retention "
        "offer (uplift model learned from past randomized campaigns): positive, the offer helps; "
        "negative, it drives the customer away. Null when no uplift model is packaged.",
    )
    expected_incremental_value: float | None = Field(
        None,
        description="Predicted spend over the horizon the offer adds, in `currency` (the uplift "
        "model's value effect, as in `retain score`'s scores). Null when no uplift model is "
        "packaged.",
    )
    uplift_reasons: list[UpliftReason] = Field(
        default_factory=list,
        description="Top drivers of `uplift` by |contribution|; empty without an uplift model.",
    )
    as_of: dt.date | None = None
    model_versions: ModelVersions | None = None
    error: str | None = None


class ScoreResponse(BaseModel):
    """Scores in request order; an item that could not be scored carries an ``error`` instead."""

    scores: list[CustomerScore]


class UpliftInfo(BaseModel):
    """The packaged uplift model: version, learner and how it ranked held-out campaign customers."""

    version: str = Field(description="'<registered name>:<version>'.")
    learner: str = Field(description="x_learner or dr_learner (LightGBM final regressors).")
    trained_at: str | None = None
    campaigns: dict[str, str] = Field(
        default_factory=dict, description="Past campaigns learned from, with their contact day."
    )
    qini: float | None = Field(
        None,
        description="Held-out Qini coefficient: incremental retained customers found by the "
        "model's ranking beyond random targeting, on campaign customers it did not train on.",
    )
    churn_risk_qini: float | None = Field(
        None, description="The same measure for ranking by churn risk, the policy to beat."
    )
    test_metrics: dict[str, float] = Field(
        default_factory=dict, description="Held-out Qini, AUUC and uplift in the top 10/20/30%."
    )
    verdict: str | None = Field(
        None,
        description="Training's plain verdict: whether any uplift learner beat random, churn-risk "
        "and response targeting on the held-out campaign customers.",
    )
    base_value: float = Field(
        description="The uplift before any feature is known; a customer's uplift_reasons over "
        "every feature add up to uplift minus this."
    )
    policy: str | None = Field(
        None,
        description="The targeting policy chosen on validation customers of past campaigns "
        "(one-standard-error rule, simplest first); None for a model trained before policies "
        "competed.",
    )
    policy_reason: str | None = Field(None, description="Why that policy was chosen, in words.")
    policy_figures: dict[str, float | None] = Field(
        default_factory=dict,
        description="The chosen policy's held-out qini, auuc and profit_at_budget, each with "
        "its bootstrap interval (<metric>_low, <metric>_high).",
    )


NULLABLE: JsonDict = {"nullable": True}
"""OpenAPI 3.0's mark of a field that may be null, on ``ModelInfo``'s optional fields: BentoML
inlines that response's schema keeping only the first branch of ``X | None``, so without it the
document would say such a field is never null."""


class ModelInfo(BaseModel):
    """What the service runs: model versions, training provenance, features and test metrics."""

    churn_version: str
    clv_version: str | None = Field(
        None,
        json_schema_extra=NULLABLE,
        description="The CLV model scores carry; null for a churn-only package.",
    )
    models: list[str] = Field(
        default_factory=lambda: ["churn"],
        description="The models served: churn always, clv and uplift when packaged.",
    )
    value_basis: str = Field(
        "",
        description="What value_if_staying and value_at_risk rest on: the CLV model, a recurring "
        "charge over the horizon (churn-only), or 'value unknown' (they are then null).",
    )
    horizon_days: int
    trained_at: str
    features: list[str]
    derived_features: list[str] = Field(
        default_factory=list,
        description="Features the models compute from the given ones (BG/NBD P(alive), expected "
        "purchases, spend and value from the btyd summary): never sent, may appear as reasons.",
    )
    categorical_features: dict[str, list[str]]
    risk_tiers: dict[str, float] = Field(
        description="Churn probabilities from which a customer is at high and at medium risk "
        "(below medium: low), from the config's risk_tiers packaged with the models."
    )
    test_metrics: dict[str, dict[str, float]]
    feature_table: dict[str, str | int | None]
    max_batch: int
    attributes: dict[str, str] | None = Field(
        None,
        json_schema_extra=NULLABLE,
        description="Models trained on a CRM snapshots table: the row's columns they read "
        "(name -> numeric, categorical, boolean or date), to send as 'attributes' with 'as_of'.",
    )
    economics: dict[str, str | float | None] | None = Field(
        None,
        json_schema_extra=NULLABLE,
        description="The economics packaged with the models (currency, gross_margin, offer and "
        "contact costs, acceptance): value_at_risk is gross profit at this margin.",
    )
    uplift_version: str | None = Field(
        None,
        json_schema_extra=NULLABLE,
        description="The uplift model scores carry; null when none is packaged.",
    )
    uplift: UpliftInfo | None = Field(
        None,
        json_schema_extra=NULLABLE,
        description="The uplift model's learner, campaigns and held-out Qini; null if none.",
    )
    uplift_status: str = Field(
        "no uplift model",
        description="'no uplift model', or the model and its held-out Qini in one line.",
    )
    split: Literal["out_of_time", "in_time"] = Field(
        "out_of_time",
        description="How the test metrics were measured: on a later day, or (one as_of day) "
        "on held-out customers of the same day.",
    )


EXAMPLE_FEATURES_REQUEST = {
    "customers": [
        {
            "customer_id": "R000001",
            "features": {"days_since_last_purchase": 12.0, "orders_total": 9.0},
        }
    ]
}
"""Shape of a by-features request; real requests carry every feature (POST /model_info lists them)."""

EXAMPLE_EVENTS_REQUEST = {
    "customers": [
        {
            "customer_id": "C-42",
            "as_of": "2024-09-30",
            "signup_date": "2024-01-15",
            "attributes": {"channel": "referral", "region": "north"},
            "transactions": [
                {"timestamp": "2024-01-15T10:00:00", "amount": 52.5, "order_id": "A1"},
                {"timestamp": "2024-03-02T18:30:00+01:00", "amount": 31.0, "order_id": "A2"},
                {
                    "timestamp": "2024-08-20T09:12:00",
                    "amount": -12.0,
                    "order_id": "A2-R",
                    "quantity": -1,
                },
            ],
        }
    ]
}

EXAMPLE_IDS_REQUEST = {"customer_ids": ["R000001", "R000002", "does-not-exist"]}
