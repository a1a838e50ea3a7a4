"""The uplift gate's part of the targeting-policy competition: what the chosen policy means for
the registered uplift model, and where the choice is recorded.

* Random order wins on validation: nothing beat it, so the uplift model is registered, not
  promoted, and the reason says what the campaign does instead. Every other policy is served by
  the uplift version that records it (``training.uplift_eval.SERVED``).
* A first uplift version must beat random order on the chosen figure (``uplift.choose_by``):
  the held-out paired interval of the chosen policy's gain over random order's expectation
  must lie wholly above 0 (``training.registry.first_version``).
* The choice is written on the version (``Tag.POLICY``, ``Tag.POLICY_REASON``,
  ``Tag.POLICY_FIGURES``), on the training run, and as ``uplift/policy.json`` in the run.
"""

from __future__ import annotations

import json

import mlflow

from core.names import RANDOM, plain_name
from model.registry import Tag, mlflow_client
from training.metrics import PairedInterval
from training.registry import Decision
from training.uplift_eval import SERVED, UpliftEvaluation

FALLBACK = (
    "risk-value targeting (churn risk x value at an assumed acceptance), as without an uplift "
    "model, not shown to beat random order"
)
"""What ``retain campaign`` does when no uplift model is served."""


def policy_not_served(evaluation: UpliftEvaluation, score: float) -> Decision | None:
    """A not-promoted decision when the chosen policy is not one the uplift model serves."""
    choice = evaluation.choice
    if choice is None or choice.policy in SERVED:
        return None
    if choice.policy == RANDOM:
        what = "no targeting policy beats random order on validation"
    else:
        what = f'the best policy on validation, "{plain_name(choice.policy)}", cannot be served'
    reason = (
        f"{what} ({choice.reason}); the uplift model ({evaluation.learner}) is registered, not "
        f"promoted, and the campaign falls back to {FALLBACK}"
    )
    return Decision(False, reason, evaluation.metric, score, evidence=reason, trivial_failed=True)


def versus_random(evaluation: UpliftEvaluation) -> PairedInterval | None:
    """The chosen policy's held-out figure (``evaluation.metric``) against random order's
    expectation on the same customers and resamples, with the interval of the gain."""
    figures, choice = evaluation.figures, evaluation.choice
    if figures is None or choice is None:
        return None
    policy, metric = choice.policy, evaluation.metric
    gain, low, high, se = figures.versus_random(policy, metric)
    point = figures.point[policy][metric]
    return PairedInterval(
        metric,
        point,
        point - gain,
        low,
        high,
        figures.level,
        figures.replicates[policy][metric].size,
        len(evaluation.test),
        se,
    )


def chosen_score(evaluation: UpliftEvaluation) -> float:
    """The chosen policy's held-out figure the gate reads (``evaluation.metric``)."""
    assert evaluation.figures is not None
    assert evaluation.choice is not None
    return evaluation.figures.point[evaluation.choice.policy][evaluation.metric]


def chosen_figures(evaluation: UpliftEvaluation) -> dict[str, float | None]:
    """The chosen policy's held-out figures with their interval ends (JSON-safe)."""
    card = evaluation.policy_card()
    figures: dict[str, float | None] = card["figures"][card["policy"]]
    return figures


def tag_policy(evaluation: UpliftEvaluation, name: str, version: str, *, uri: str) -> None:
    """Record the chosen policy on the version and the training run (call inside the run)."""
    card = evaluation.policy_card()
    c = mlflow_client(uri)
    c.set_model_version_tag(name, version, Tag.POLICY, card["policy"])
    c.set_model_version_tag(name, version, Tag.POLICY_REASON, card["reason"])
    c.set_model_version_tag(
        name, version, Tag.POLICY_FIGURES, json.dumps(chosen_figures(evaluation))
    )
    mlflow.set_tags({"uplift.policy": card["policy"], "uplift.policy_reason": card["reason"]})
    mlflow.log_dict(card, "uplift/policy.json")


def policy_line(evaluation: UpliftEvaluation) -> str:
    """One line: the policy chosen on validation, why, and its held-out figures with intervals."""
    card = evaluation.policy_card()
    return f"targeting policy chosen on validation: {card['policy']} ({card['reason']}); " + (
        held_out_words(card["figures"][card["policy"]], card["contacts"], card["test_rows"])
    )


def held_out_words(figures: dict[str, float | None], contacts: int, rows: int) -> str:
    """The held-out figures of one policy in words, each with its interval."""

    def part(metric: str, fmt: str) -> str:
        value, low, high = (figures.get(k) for k in (metric, f"{metric}_low", f"{metric}_high"))
        if value is None:
            return f"{metric} not measurable"
        ci = "" if low is None or high is None else f" ({low:{fmt}} to {high:{fmt}})"
        return f"{metric} {value:{fmt}}{ci}"

    return (
        f"held out: {part('qini', '.4f')}, {part('auuc', '.4f')}, "
        f"{part('profit_at_budget', ',.0f')} contacting {contacts:,} of {rows:,}"
    )


def policy_table(evaluation: UpliftEvaluation) -> str:
    """The competition as ``retain train`` prints it: per policy its validation figure (the one
    chosen on, ``uplift.choose_by``) and held-out Qini and profit at the budget with intervals,
    the chosen one marked ``*`` (the full table is the run's ``uplift/evaluation.csv``)."""
    card = evaluation.policy_card()
    metric = evaluation.metric
    head, fmt = ("valid. Qini", ".4f") if metric == "qini" else ("valid.profit", ",.0f")
    lines = [
        f"  {'policy':<20} {head:>12}  {'held-out Qini (95% CI)':<30} "
        f"profit contacting {card['contacts']:,} (95% CI)"
    ]
    table = evaluation.table.set_index("policy")
    for name, figures in card["figures"].items():
        qini = _with_interval(figures, "qini", ".4f")
        profit = _with_interval(figures, "profit_at_budget", ",.0f")
        mark = "*" if name == card["policy"] else " "
        lines.append(
            f"{mark} {name:<20} {table.loc[name, f'validation_{metric}']:>12{fmt}}  {qini:<30} "
            f"{profit}"
        )
    return "\n".join(lines)


def _with_interval(figures: dict[str, float | None], metric: str, fmt: str) -> str:
    value, low, high = (figures.get(k) for k in (metric, f"{metric}_low", f"{metric}_high"))
    if value is None:
        return "not measurable"
    return f"{value:{fmt}}" + (
        "" if low is None or high is None else f" ({low:{fmt}} to {high:{fmt}})"
    )
