"""``retain report``: read the scores, the data and the models' cards; compute, draw, render, write.

The numbers come from ``retention.report_figures`` (pure functions of what is read here), the
charts from ``retention.report_plots`` and the page from ``retention.report_html``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from core.config_file import ConfigFile
from core.economics import Economics
from core.errors import DataValidationError
from core.risk_tiers import RiskTiers
from features.labelled import load_snapshots
from features.loading import load_data
from features.prepare import prepare
from model.card import ModelCard
from retention.campaign import (
    CAMPAIGN_JSON,
    CAMPAIGNS,
    CONTACT_LIST,
    SCORES_GENERATION,
    CampaignParams,
    read_contact_list,
)
from retention.report_figures import ReportInputs, observed_in_snapshots, report_figures
from retention.report_html import ReportData, Section, render
from retention.report_plots import report_images
from serving.batch import CARDS
from serving.files import write_atomically
from serving.generation import SCORE_META, Generation, read_meta, read_scores
from serving.store import ECONOMICS, RISK_TIERS


def read_inputs(scores_path: Path, config: Path) -> ReportInputs:
    """Read the scores, the data behind them, what `retain score` recorded and the campaign."""
    scores, generation = read_scores(scores_path)
    if scores.empty:
        raise DataValidationError(f"the scores table {scores_path} is empty")
    as_of = pd.Timestamp(scores["as_of"].iloc[0])
    data_config = ConfigFile.read(config).data()
    prep = prepare(load_data(data_config)[0]) if data_config.transactions is not None else None
    horizon = int(meta_horizon(scores_path.parent))
    observed = None
    if data_config.snapshots is not None:
        table = load_snapshots(data_config.snapshots, labels=True)
        observed = observed_in_snapshots(table, as_of, horizon)
    meta = generation.meta if generation else _score_meta(scores_path.parent)
    economics = Economics.model_validate(meta.get(ECONOMICS) or {})
    saved = saved_campaign(scores_path.parent, generation, economics)
    return ReportInputs(
        scores=scores,
        as_of=as_of,
        prep=prep,
        observed=observed,
        horizon_days=horizon,
        contractual=bool(
            meta.get("contractual", prep is not None and prep.subscriptions is not None)
        ),
        active_days=int(meta.get("active_days", 365)),
        economics=economics,
        risk_tiers=RiskTiers.model_validate(meta.get(RISK_TIERS) or {}),
        cards=_cards(meta, scores_path.parent),
        campaign=saved.params,
        campaign_note=saved.note,
        campaign_id=saved.campaign_id,
        contact_list=saved.contact_list,
    )


def gather(scores_path: Path, config: Path, extra_sections: Sequence[Section] = ()) -> ReportData:
    """Read the scores, the data behind them and the models' cards; compute what the page shows.

    ``extra_sections`` (title, HTML) are shown after the accounts at risk, in order.
    """
    inputs = read_inputs(scores_path, config)
    figures = report_figures(inputs)
    return ReportData(
        figures.as_of,
        figures.kpis,
        report_images(inputs.scores, figures, inputs.cards),
        figures.top,
        figures.provenance,
        figures.notes,
        headlines=figures.headlines,
        economics=figures.economics,
        horizon_days=figures.horizon_days,
        top_reasons=figures.top_reasons,
        warnings=figures.warnings,
        extra_sections=list(extra_sections),
        risk_tiers=figures.risk_tiers,
        call_title=figures.call_title,
        call_rule=figures.call_rule,
    )


def meta_horizon(folder: Path) -> int:
    """The horizon `retain score` recorded (90 days when the scores predate the record)."""
    return int(_score_meta(folder).get("horizon_days", 90))


def _score_meta(folder: Path) -> dict[str, Any]:
    """What `retain score` recorded beside the scores (horizon, active window, business, cards)."""
    path = folder / SCORE_META
    return dict(json.loads(path.read_text())) if path.exists() else {}


def _cards(meta: dict[str, Any], folder: Path) -> dict[str, ModelCard]:
    """The models' cards `retain score` recorded; a malformed one is a clear error."""
    try:
        return {
            kind: ModelCard.model_validate(card)
            for kind, card in meta.get(CARDS, {}).items()
            if card is not None  # a churn-only package has no CLV card
        }
    except ValidationError as err:
        raise DataValidationError(
            f"the model cards in {folder / SCORE_META} are not valid ({err}); rerun `retain score`"
        ) from None


@dataclass(frozen=True)
class SavedCampaign:
    """The latest campaign planned beside the scores: its settings, id and recorded contact list
    (None without a campaign), and a note when the page cannot show it as recorded."""

    params: CampaignParams
    campaign_id: str | None = None
    contact_list: pd.DataFrame | None = None
    note: str | None = None


def saved_campaign(
    folder: Path, generation: Generation | None, economics: Economics
) -> SavedCampaign:
    """The campaign ``campaign.json`` beside the scores records, with the contact list of its
    folder (``campaigns/<id>/campaign.csv``); no file: no campaign, and the settings
    ``retain campaign`` would use (the scores' ``economics``, no budget limit)."""
    saved = folder / CAMPAIGN_JSON
    if not saved.exists():
        return SavedCampaign(CampaignParams(budget=float("inf"), economics=economics))
    try:
        values = json.loads(saved.read_text())
        planned_on = values.pop(SCORES_GENERATION, None)
        campaign_id = values.get("campaign_id")
        params = CampaignParams(**values)
    except (OSError, ValueError, TypeError, AttributeError):
        raise DataValidationError(
            f"{saved} is unreadable (not the settings `retain campaign` writes): rerun "
            "`retain campaign`"
        ) from None
    listed = folder / CAMPAIGNS / str(campaign_id) / CONTACT_LIST
    if not campaign_id or not listed.exists():
        return SavedCampaign(
            params,
            note=f"The contact list of the campaign {saved.name} records ({listed}) is missing: "
            "the list shown is recomputed on the current scores with its settings (rerun "
            "`retain campaign` to record one).",
        )
    note = None
    if generation is not None and planned_on != generation.id:
        note = (
            f"Campaign {campaign_id} was planned on scores generation {planned_on or 'unknown'}, "
            f"not the current {generation.id}: its contact list is shown as it was sent to the "
            "CRM; the profit curve is recomputed on the current scores (rerun `retain campaign` "
            "to plan on them)."
        )
    return SavedCampaign(params, str(campaign_id), read_contact_list(listed), note)


def write_report(
    scores_path: Path, config: Path, out: Path, extra_sections: Sequence[Section] | None = None
) -> Path:
    """Gather, render and write the report; returns its path.

    ``extra_sections`` are (title, HTML body) pairs shown after the accounts at risk; by default
    the campaigns' measured results and, when an uplift model was scored, its Qini curves.
    """
    sections = default_sections(scores_path, config) if extra_sections is None else extra_sections
    report = gather(scores_path, config, sections)
    out.parent.mkdir(parents=True, exist_ok=True)
    page = render(report)
    write_atomically(out, lambda tmp: tmp.write_text(page, encoding="utf-8"), hook="report:html")
    return out


def default_sections(scores_path: Path, config: Path) -> list[Section]:
    """ "Did retention pay?" (every campaign with a control group, measured), "Is the model
    still right?" (the score history against what happened) and the uplift model's Qini curves
    when the scores carry an uplift model's card."""
    from retention import campaign_section, monitor_section, uplift_report
    from serving.uplift_store import UPLIFT_CARD

    sections: list[Section] = [
        (campaign_section.TITLE, campaign_section.retention_paid_section(config)),
        (monitor_section.TITLE, monitor_section.model_right_section(config)),
    ]
    card = (read_meta(scores_path.parent) or {}).get(UPLIFT_CARD)
    body = uplift_report.qini_section(card) if isinstance(card, dict) else ""
    if body:
        sections.append((uplift_report.TITLE, body))
    return sections
