"""retention.report: every section is there, the numbers equal the scores table, the file stands alone.

The HTML is parsed with html.parser; KPIs and headline numbers carry their exact value in
``data-value``, which must equal what is computed here from the scores table. With Chromium
installed (`.ci/run` installs Debian's `chromium` when it can), the page is also rendered headless:
the headline numbers are read from the rendered DOM, and a screenshot of the first screen is saved
in the test's temporary folder (its path is printed: look at it).
"""

from __future__ import annotations

import base64
import json
import math
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from core.economics import Economics
from features.catalogue import reason_label
from retention.at_risk import parse_reason_value
from retention.campaign import CampaignParams, plan, ranking
from retention.report import write_report
from retention.report_words import model_name
from serving.generation import SCORE_META
from serving.scorer import Scorer
from serving.store import ECONOMICS as ECONOMICS_KEY
from tests.conftest import DEMO_ECONOMICS, TrainedProject

pytestmark = pytest.mark.slow  # trains, packages and scores the demo project

CHROMIUM = Path("/usr/bin/chromium")
SECTIONS = {"headlines", "kpis", "risk", "models", "top", "glossary", "provenance"}
CHEAP_OFFER = {"offer_cost": 2.0, "contact_cost": 0.5}
"""Costs low enough for the demo's customers to be worth a contact (the defaults, a 10 offer and
a 1 contact, make few of them so): planted in a copy of the scores' recorded economics."""
ECONOMICS = Economics.model_validate({**DEMO_ECONOMICS, **CHEAP_OFFER})
FIGURES = {
    "Churn-risk distribution",
    "Expected campaign profit by reach",
    "Value at risk by segment",
    "Calibration on the test cutoff",
    "Cumulative gain on the test cutoff",
}


class Page(HTMLParser):
    """What the tests read from the report: sections, KPIs, images, tables, notes, tag names."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, str] = {}
        self.kpis: dict[str, str] = {}
        self.images: dict[str, str] = {}
        self.top_ids: list[str] = []
        self.top_ranks: list[int] = []
        self.top_fields: list[dict[str, float]] = []
        """Per row of the call list: its exact figures by column name (``data-field``)."""
        self.top_rows: list[list[str]] = []
        self.headline_numbers: dict[str, str] = {}
        self.provenance: dict[str, str] = {}
        self.metrics: dict[str, str] = {}
        self.notes: list[str] = []
        self.rules: dict[str, str] = {}
        """The text of each section's ``p.rule`` (how its list was decided), by section id."""
        self.tags: set[str] = set()
        self._section = ""
        self._table = ""
        self._row: list[str] = []
        self._target: tuple[str, str] | None = None
        self._text: list[str] = []

    def _collect(self, kind: str, key: str = "") -> None:
        self._target, self._text = (kind, key), []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.add(tag)
        if "data-kpi" in a:
            self.kpis[a["data-kpi"]] = a["data-value"]
        if "data-headline" in a:
            self.headline_numbers[a["data-headline"]] = a["data-value"]
        if tag == "h2":
            self._section = a.get("id", "")
            self._collect("section", self._section)
        elif tag == "table":
            self._table = a.get("id") or self._section
        elif tag == "tr":
            self._row = []
        elif tag in ("th", "td"):
            if self._table == "top-accounts" and "data-rank" in a:
                self.top_ranks.append(int(a["data-rank"]))
                self.top_fields.append({})
            if self._table == "top-accounts" and "data-customer" in a:
                self.top_ids.append(a["data-customer"])
            if self._table == "top-accounts" and "data-field" in a:
                self.top_fields[-1][a["data-field"]] = float(a["data-value"] or "nan")
            if "data-metric" in a:
                self._collect("metric", a["data-metric"])
            else:
                self._collect("cell")
        elif tag == "p" and "note" in a.get("class", "").split():
            self._collect("note")
        elif tag == "p" and "rule" in a.get("class", "").split():
            self._collect("rule", self._section)
        elif tag == "img":
            self.images[a["alt"]] = a["src"]

    def handle_data(self, data: str) -> None:
        if self._target is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = ""
        elif tag == "tr" and self._table == "provenance" and len(self._row) == 2:
            self.provenance[self._row[0]] = self._row[1]
        elif tag == "tr" and self._table == "top-accounts" and self._row and self._row[0] != "#":
            self.top_rows.append(self._row)
        if self._target is None or tag not in ("h2", "th", "td", "p"):
            return
        kind, key = self._target
        text = "".join(self._text)
        if kind == "section":
            self.sections[key] = text
        elif kind == "metric":
            self.metrics[key] = text
        elif kind == "note":
            self.notes.append(text)
        elif kind == "rule":
            self.rules[key] = text
        else:
            self._row.append(text)
        self._target = None


def cheap_offer_scores(trained: TrainedProject, folder: Path) -> Path:
    """A copy of the session's scores folder in ``folder`` whose recorded economics (what
    `retain package --config` packaged, read by `retain campaign` and `retain report`) have
    ``CHEAP_OFFER``'s costs; the scores themselves are the session's."""
    shutil.copytree(trained.scores.parent, folder)
    meta_path = folder / SCORE_META
    meta = json.loads(meta_path.read_text())
    meta[ECONOMICS_KEY] = {**meta[ECONOMICS_KEY], **CHEAP_OFFER}
    meta_path.write_text(json.dumps(meta))
    return folder / trained.scores.name


@pytest.fixture(scope="module")
def report(trained: TrainedProject, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    with pytest.MonkeyPatch.context() as env:
        # a ledger and score history of its own: what other modules on this worker scored or
        # planned in the session's workspace would add sections this page is not about
        env.setenv("RETAIN_LEDGER_URL", f"sqlite:///{folder / 'ledger.db'}")
        scores = cheap_offer_scores(trained, folder / "scores")
        return write_report(scores, trained.config, folder / "report.html")


@pytest.fixture(scope="module")
def page(report: Path) -> Page:
    parsed = Page()
    parsed.feed(report.read_text(encoding="utf-8"))
    parsed.close()
    return parsed


def test_every_section_and_figure_is_there(page: Page) -> None:
    assert set(page.sections) >= SECTIONS
    assert page.sections["top"] == "The 50 to call first"
    assert set(page.images) == FIGURES
    assert page.notes == []  # e.g. no "training plots unavailable"


def test_images_are_inline_pngs(page: Page) -> None:
    for alt, src in page.images.items():
        prefix = "data:image/png;base64,"
        assert src.startswith(prefix), alt
        assert base64.b64decode(src.removeprefix(prefix))[:8] == b"\x89PNG\r\n\x1a\n", alt


def test_the_file_is_self_contained(report: Path, page: Page) -> None:
    text = report.read_text(encoding="utf-8")
    assert "http://" not in text
    assert "https://" not in text
    assert "script" not in page.tags
    assert "link" not in page.tags
    assert "iframe" not in page.tags
    assert "url(" not in text  # no CSS fetches either


def test_kpis_equal_the_numbers_of_the_scores_table(page: Page, scores: pd.DataFrame) -> None:
    at_risk = scores["risk_tier"].isin(["medium", "high"])
    expected = {
        "active_customers": len(scores),
        "total_value_at_risk": scores["value_at_risk"].sum(),
        "at_risk_value": scores.loc[at_risk, "value_at_risk"].sum(),
        "mean_clv": scores["clv"].mean(),
        "total_clv": scores["clv"].sum(),
        "high_risk_customers": (scores["risk_tier"] == "high").sum(),
    }
    for key, value in expected.items():
        assert math.isclose(float(page.kpis[key]), float(value), rel_tol=1e-12), key
    churn_rate = float(page.kpis["churn_rate"])
    assert 0 < churn_rate < 1
    assert math.isclose(float(page.kpis["retention_rate"]), 1 - churn_rate)


def expected_call_list(scores: pd.DataFrame) -> pd.DataFrame:
    """Without a campaign: the first 50 of the order `retain campaign` contacts in, with the
    economics recorded with the scores and no budget limit."""
    planned = plan(scores, CampaignParams(budget=math.inf, economics=ECONOMICS))
    return ranking(planned).head(50)


def test_without_a_campaign_the_call_list_is_the_campaigns_contact_order(
    page: Page, scores: pd.DataFrame
) -> None:
    top = expected_call_list(scores)
    assert len(top) == 50
    assert page.top_ids == top["customer_id"].tolist()
    assert page.top_ranks == list(range(1, 51))
    for field in ("churn_probability", "clv", "expected_gain"):
        assert [f[field] for f in page.top_fields] == top[field].tolist(), field
    assert min(f["expected_gain"] for f in page.top_fields) > 0  # never a losing contact
    rule = page.rules["top"]
    assert rule.startswith("No campaign has been planned on these scores yet")
    assert "high: 60% or more; medium: 30% to under 60%; low: under 30%" in rule


def test_accounts_show_only_risk_raising_reasons_in_plain_words(
    page: Page, scores: pd.DataFrame
) -> None:
    rows = expected_call_list(scores).set_index("customer_id")
    raised = 0
    for customer, cells in zip(page.top_ids, page.top_rows, strict=True):
        row = rows.loc[customer]
        assert cells[3] == f"{row['churn_probability']:.0%}"
        assert cells[4] == ECONOMICS.money(row["clv"], 2)
        assert cells[5] == ECONOMICS.money(row["expected_gain"], 2)
        assert cells[5].startswith("£")
        expected = [
            reason_label(
                row[f"reason_{k}"], parse_reason_value(row[f"reason_{k}_value"]), ECONOMICS.money
            )
            for k in (1, 2, 3)
            if row[f"reason_{k}_direction"] == "raises risk"
        ]
        raised += bool(expected)
        assert cells[6] == ("; ".join(expected) if expected else "no single fact stands out")
        for k in (1, 2, 3):  # no raw feature names
            assert row[f"reason_{k}"] not in cells[6]
    # most customers worth calling show what raises their risk (37 of 50 on this fixture: a
    # valuable customer of middling risk may have only risk-lowering facts among its top three)
    assert raised > len(page.top_ids) / 2


def test_headlines_equal_the_scores_table(page: Page, scores: pd.DataFrame) -> None:
    for key, value in headline_expectations(scores).items():
        assert math.isclose(float(page.headline_numbers[key]), value, rel_tol=1e-12), key
    assert 0 < float(page.headline_numbers["capture_top"]) <= 1


def test_provenance_names_models_training_metrics_and_data_range(
    page: Page, scores: pd.DataFrame, trained: TrainedProject, local_scorer: Scorer
) -> None:
    tx = pd.read_csv(trained.data / "transactions.csv", parse_dates=["timestamp"])
    first, last = tx["timestamp"].min().date(), tx["timestamp"].max().date()
    prov = page.provenance
    card = local_scorer.churn.card  # the packaged champion's card
    assert prov["churn model"] == f"{model_name(card.model)} ({scores['churn_model'].iloc[0]})"
    assert prov["CLV model"] == (
        f"{model_name(local_scorer.clv.card.model)} ({scores['clv_model'].iloc[0]})"
    )
    assert prov["economics"] == "amounts in GBP; gross margin 40%"
    assert prov["data range"] == f"{first} to {last}"
    assert prov["scored as of"] == str(trained.as_of.date())
    trained_at = pd.Timestamp(prov["trained"].removesuffix(" UTC"))
    assert abs(pd.Timestamp.now() - trained_at) < pd.Timedelta(days=1)
    assert prov["test cutoff"] == card.cutoffs.test
    assert pd.Timestamp(prov["test cutoff"]) < trained.as_of
    assert prov["trained"] == pd.Timestamp(card.trained_at).strftime("%Y-%m-%d %H:%M UTC")
    assert {"roc_auc", "brier"} <= set(card.test_metrics)
    assert set(page.metrics) == set(card.test_metrics)
    for name, shown in page.metrics.items():
        assert shown == f"{card.test_metrics[name]:.4f}", name


def headline_expectations(scores: pd.DataFrame) -> dict[str, float]:
    """The headline numbers computed here from the scores table."""
    at_risk = scores["risk_tier"].isin(["medium", "high"])
    high = float((scores["risk_tier"] == "high").sum())
    return {
        "at_risk_value": float(scores.loc[at_risk, "value_at_risk"].sum()),
        "at_risk_customers": float(at_risk.sum()),
        "high_risk_customers": high,
        "high_risk_share": high / len(scores),
    }


def _chromium(url: str, profile: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        *flags,
        url,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def _console_problems(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]


def _rendered_headlines(dom: str) -> dict[str, tuple[float, str]]:
    """(data-value, shown text) of every headline number in a rendered DOM."""
    found = re.findall(
        r'<strong data-headline="([a-z_]+)" data-value="([^"]*)">([^<]*)</strong>', dom
    )
    return {key: (float(value), shown) for key, value, shown in found}


@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"no browser at {CHROMIUM}: apt-get install chromium (.ci/run does it as root)",
)
def test_report_renders_in_a_headless_browser(
    report: Path, scores: pd.DataFrame, tmp_path: Path
) -> None:
    # the check itself works: a page with a console error and an exception is caught
    bad = tmp_path / "bad.html"
    bad.write_text("<p>x</p><script>console.error('broken'); missingFunction();</script>")
    control = _chromium(bad.as_uri(), tmp_path / "profile-control", "--dump-dom")
    assert len(_console_problems(control.stderr)) >= 2, control.stderr[-2000:]
    shutil.rmtree(tmp_path / "profile-control", ignore_errors=True)

    done = _chromium(report.as_uri(), tmp_path / "profile", "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert "<h1>Retention report</h1>" in dom
    assert dom.count('data-kpi="') >= 9
    assert 'id="top-accounts"' in dom
    assert _console_problems(done.stderr) == []

    # the headline numbers as the browser rendered them equal the scores table's
    shown = _rendered_headlines(dom)
    expected = headline_expectations(scores)
    assert set(expected) <= set(shown)
    for key, value in expected.items():
        assert math.isclose(shown[key][0], value, rel_tol=1e-12), key
    assert shown["at_risk_value"][1] == ECONOMICS.money(expected["at_risk_value"])
    assert shown["at_risk_value"][1].startswith("£")
    assert shown["at_risk_customers"][1] == f"{int(expected['at_risk_customers']):,}"
    assert shown["high_risk_share"][1] == f"{expected['high_risk_share']:.0%}"

    screenshot = tmp_path / "report-first-screen.png"
    shot = _chromium(
        report.as_uri(),
        tmp_path / "profile-shot",
        f"--screenshot={screenshot}",
        "--window-size=1280,1000",
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"\nscreenshot of the report's first screen: {screenshot}")
