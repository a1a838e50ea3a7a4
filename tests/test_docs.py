"""The README and docs/ say only what the code does.

Every ``retain`` command line names a command and options the CLI has, and parses; every JSON
example fits the service's schemas (a score answering an events request carries the reasons those
events give), and the README's requests are the ones the HTTP tests send to a running service;
every YAML example is a valid experiment config; every ``make`` target exists; every relative link
resolves; the README stays short and quotes its results table from the files it cites. Nothing
here trains, serves or reads data: it runs in seconds.
"""

from __future__ import annotations

import json
import math
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pandas as pd
import pytest
import typer
import yaml
from pydantic import BaseModel, ConfigDict
from typer.core import TyperGroup

from core.config_file import parse_config
from core.economics import Economics
from features.build import build_features
from features.catalogue import reason_label
from retain.cli import app, register_commands
from serving.requests import events_to_data
from serving.schemas import (
    EXAMPLE_EVENTS_REQUEST,
    EXAMPLE_IDS_REQUEST,
    CustomerId,
    CustomerInput,
    CustomerScore,
    Reason,
    ScoreResponse,
    UpliftReason,
)
from tests.helpers import ROOT

README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
"""Every page whose commands, requests and links are checked."""
GUIDES = [README, *(ROOT / "docs" / name for name in ("USER_GUIDE.md", "API.md", "RESULTS.md"))]
"""The pages written by hand for users, whose YAML examples must be valid configs too."""
README_MAX_LINES = 250
SHELL_LANGUAGES = {"", "bash", "sh", "shell", "console"}
OPERATORS = {"|", "||", "&&", ";", "&"}


class ScoreBody(BaseModel):
    """The body of ``POST /score``, as the service's signature declares it."""

    model_config = ConfigDict(extra="forbid")
    customers: list[CustomerInput]


class IdsBody(BaseModel):
    """The body of ``POST /score_ids``."""

    model_config = ConfigDict(extra="forbid")
    customer_ids: list[CustomerId]


class EmptyBody(BaseModel):
    """The body of ``POST /model_info``: an empty object."""

    model_config = ConfigDict(extra="forbid")


REQUEST_BODIES: dict[str, type[BaseModel]] = {
    "/score": ScoreBody,
    "/score_ids": IdsBody,
    "/model_info": EmptyBody,
}


@dataclass(frozen=True)
class Block:
    """A fenced code block of a page."""

    page: Path
    line: int
    language: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def code_blocks(page: Path) -> list[Block]:
    """The fenced code blocks of a Markdown page, with the line each starts on."""
    blocks: list[Block] = []
    lines = page.read_text().splitlines()
    i = 0
    while i < len(lines):
        opening = re.match(r"^\s*```\s*([\w-]*)", lines[i])
        if opening is None:
            i += 1
            continue
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith("```"):
            body.append(lines[j])
            j += 1
        blocks.append(Block(page, i + 1, opening.group(1).lower(), "\n".join(body)))
        i = j + 1
    return blocks


def prose(page: Path) -> str:
    """A page's text outside its code blocks."""
    return re.sub(r"^\s*```.*?^\s*```[^\n]*$", "", page.read_text(), flags=re.S | re.M)


def shell_commands(block: Block) -> Iterator[list[str]]:
    """Each command of a shell block as tokens, continuation lines and multi-line quotes joined,
    comments dropped, split at pipes and ``&&``."""
    pending = ""
    for line in block.text.splitlines():
        pending = f"{pending}\n{line}" if pending else line
        if pending.endswith("\\"):
            pending = pending[:-1]
            continue
        try:
            tokens = shlex.split(pending, comments=True)
        except ValueError:  # an open quote: the command goes on on the next line
            continue
        pending = ""
        command: list[str] = []
        for token in [*tokens, ";"]:
            if token in OPERATORS:
                if command:
                    yield command
                command = []
            else:
                command.append(token)
    assert not pending, f"{block.where}: unfinished command {pending!r}"


def without_environment(tokens: list[str]) -> list[str]:
    """The command without leading ``NAME=value`` assignments."""
    i = 0
    while i < len(tokens) and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", tokens[i]):
        i += 1
    return tokens[i:]


def retain_commands() -> list[tuple[str, list[str]]]:
    """Every ``retain ...`` command in the pages' code blocks: (where, arguments after retain)."""
    found = []
    for page in PAGES:
        for block in code_blocks(page):
            if block.language not in SHELL_LANGUAGES | {"text"}:
                continue
            for tokens in shell_commands(block):
                tokens = without_environment(tokens)
                if tokens and (tokens[0] == "retain" or tokens[0].endswith("/bin/retain")):
                    found.append((block.where, tokens[1:]))
    return found


def curl_requests() -> list[tuple[str, str, Any]]:
    """Every ``curl`` in the pages' shell blocks: (where, URL path, parsed JSON body)."""
    found = []
    for page in PAGES:
        for block in code_blocks(page):
            if block.language not in SHELL_LANGUAGES:
                continue
            for tokens in shell_commands(block):
                if not tokens or tokens[0] != "curl":
                    continue
                url = next(t for t in tokens if "://" in t)
                flags = [i for i, t in enumerate(tokens) if t in ("-d", "--data", "--data-raw")]
                assert flags, f"{block.where}: a curl without a JSON body (-d)"
                body = json.loads(tokens[flags[0] + 1])
                found.append((block.where, urlparse(url).path, body))
    return found


def json_examples() -> list[tuple[str, Any]]:
    """Every ```json block of the pages, parsed."""
    return [
        (block.where, json.loads(block.text))
        for page in PAGES
        for block in code_blocks(page)
        if block.language == "json"
    ]


def cli() -> TyperGroup:
    register_commands()
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    return group


RETAIN = retain_commands()


def test_the_pages_show_retain_commands() -> None:
    assert len(RETAIN) >= 20
    assert {args[0] for _, args in RETAIN if args} >= {"train", "score", "campaign", "report"}


@pytest.mark.parametrize(("where", "args"), RETAIN, ids=[w for w, _ in RETAIN])
def test_every_retain_command_and_option_exists_and_parses(where: str, args: list[str]) -> None:
    group = cli()
    assert args, f"{where}: `retain` without a command"
    command = group.commands.get(args[0])
    assert command is not None, (
        f"{where}: no command `retain {args[0]}`; has {sorted(group.commands)}"
    )
    options = {name for p in command.params for name in (*p.opts, *p.secondary_opts)}
    for arg in args[1:]:
        if arg.startswith("-"):
            name = arg.split("=", 1)[0]
            assert name in options, f"{where}: `retain {args[0]}` has no option {name}"
    parent = typer.Context(group, info_name="retain")
    try:
        command.make_context(args[0], list(args[1:]), parent=parent)
    except typer.TyperException as err:  # typer's usage errors: unknown option, bad value, ...
        pytest.fail(f"{where}: `retain {' '.join(args)}` does not parse: {err}")


CURLS = curl_requests()


def test_the_pages_show_requests_to_every_scoring_endpoint() -> None:
    assert {path for _, path, _ in CURLS} >= set(REQUEST_BODIES)


@pytest.mark.parametrize(("where", "path", "body"), CURLS, ids=[w for w, _, _ in CURLS])
def test_every_curl_body_fits_its_endpoint(where: str, path: str, body: Any) -> None:
    assert path in REQUEST_BODIES, f"{where}: no endpoint {path}; has {sorted(REQUEST_BODIES)}"
    REQUEST_BODIES[path].model_validate(body)


def test_the_readme_requests_are_the_ones_the_http_tests_send() -> None:
    """tests/serving/test_service_http.py sends these constants to a running service, so the
    README's first two requests are run, not only validated."""
    readme = {path: body for where, path, body in CURLS if where.startswith("README.md")}
    assert readme["/score"] == EXAMPLE_EVENTS_REQUEST
    assert readme["/score_ids"] == EXAMPLE_IDS_REQUEST


def score_requests() -> dict[tuple[str, str], CustomerInput]:
    """The customers of every documented score request, by (customer id, as_of)."""
    bodies = [body for _, path, body in CURLS if path == "/score"]
    bodies += [
        body for _, body in json_examples() if isinstance(body, dict) and "customers" in body
    ]
    items = [c for body in bodies for c in ScoreBody.model_validate(body).customers]
    return {(c.customer_id, str(c.as_of)): c for c in items}


JSON = json_examples()


@pytest.mark.parametrize(("where", "example"), JSON, ids=[w for w, _ in JSON])
def test_every_json_example_fits_the_schemas(where: str, example: Any) -> None:
    assert isinstance(example, dict), f"{where}: a JSON example is an object"
    if "customers" in example:
        ScoreBody.model_validate(example)
    elif "customer_ids" in example:
        IdsBody.model_validate(example)
    elif "scores" in example:
        for score in ScoreResponse.model_validate(example).scores:
            check_score(where, score)
    else:
        pytest.fail(f"{where}: a JSON example of no known request or response: {sorted(example)}")


def check_score(where: str, score: CustomerScore) -> None:
    """A documented score is consistent: value at risk by its definition, and reasons whose
    values and labels are what the features of the documented request give."""
    economics = Economics(currency=score.currency or Economics().currency)
    p, clv = score.churn_probability, score.clv
    if p is not None and clv is not None and score.value_if_staying is not None:
        staying = clv / max(1 - p, 0.02)
        assert math.isclose(score.value_if_staying, staying, abs_tol=0.05), (
            f"{where}: value_if_staying is clv / max(1 - p, 0.02) = {staying:.2f}"
        )
        assert score.value_at_risk is not None
        at_risk = p * score.value_if_staying * economics.gross_margin
        assert math.isclose(score.value_at_risk, at_risk, abs_tol=0.05), (
            f"{where}: value_at_risk is p x value_if_staying x gross margin = {at_risk:.2f}"
        )
    request = score_requests().get((score.customer_id, str(score.as_of)))
    assert request is not None, f"{where}: the score answers no documented request"
    assert request.features is None, f"{where}: checked only against an events request"
    features = build_features(events_to_data([request]), pd.Timestamp(str(request.as_of)))
    row = features.iloc[0]
    reasons: list[Reason | UpliftReason] = [*score.reasons, *score.uplift_reasons]
    for reason in reasons:
        value = row[reason.feature]
        shown = reason.value
        if isinstance(value, str):
            assert shown == value, f"{where}: {reason.feature} is {value!r}, not {shown!r}"
        else:
            assert isinstance(shown, float), f"{where}: {reason.feature} is a number"
            assert math.isclose(shown, float(value), rel_tol=1e-3, abs_tol=5e-3), (
                f"{where}: {reason.feature} is {value} for this request, not {shown}"
            )
        label = reason_label(reason.feature, value, economics.money)
        assert reason.label == label, f"{where}: {reason.feature} reads {label!r}"


def yaml_examples() -> list[tuple[str, Any]]:
    return [
        (block.where, yaml.safe_load(block.text))
        for page in GUIDES
        for block in code_blocks(page)
        if block.language == "yaml"
    ]


YAML = yaml_examples()


@pytest.mark.parametrize(("where", "example"), YAML, ids=[w for w, _ in YAML])
def test_every_yaml_example_is_a_valid_config(where: str, example: Any) -> None:
    assert isinstance(example, dict), f"{where}: a config is a mapping"
    raw = {"name": "example", "data": {"transactions": {"path": "t.csv"}}, **example}
    parse_config(raw, source=where)


def inline_commands(program: str) -> list[tuple[str, list[str]]]:
    """Commands of ``program`` quoted in the prose of the hand-written pages (`` `make docs` ``):
    (page, arguments after the program)."""
    found = []
    for page in GUIDES:
        for span in re.findall(r"`([^`]+)`", prose(page)):
            tokens = span.split()
            if len(tokens) > 1 and tokens[0] == program:
                found.append((str(page.relative_to(ROOT)), tokens[1:]))
    return found


def test_every_make_target_exists() -> None:
    targets = set(re.findall(r"^([a-zA-Z_-]+):", (ROOT / "Makefile").read_text(), flags=re.M))
    quoted = []
    for page in PAGES:
        for block in code_blocks(page):
            if block.language not in SHELL_LANGUAGES:
                continue
            for tokens in shell_commands(block):
                if tokens and tokens[0] == "make":
                    quoted += [(block.where, target) for target in tokens[1:]]
    quoted += [(where, args[0]) for where, args in inline_commands("make")]
    assert len(quoted) >= 10
    for where, target in quoted:
        assert target in targets, f"{where}: no make target {target}"


INLINE = inline_commands("retain")


@pytest.mark.parametrize(("where", "args"), INLINE, ids=[" ".join(a) for _, a in INLINE])
def test_every_retain_command_quoted_in_prose_exists(where: str, args: list[str]) -> None:
    """A command quoted in a sentence may leave values out (`` `retain package --config` ``), so
    only its command and option names are checked."""
    group = cli()
    if args[0].startswith("-"):
        names = {name for p in group.get_params(typer.Context(group)) for name in p.opts}
        assert args[0] in names, f"{where}: `retain` has no option {args[0]}"
        return
    command = group.commands.get(args[0])
    assert command is not None, f"{where}: no command `retain {args[0]}`"
    options = {name for p in command.params for name in (*p.opts, *p.secondary_opts)}
    for arg in args[1:]:
        if arg.startswith("-"):
            assert arg.split("=", 1)[0] in options, f"{where}: `retain {args[0]}` has no {arg}"


def test_the_readme_reads_in_ten_minutes() -> None:
    lines = len(README.read_text().splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail to docs/"


def anchors(page: Path) -> set[str]:
    """GitHub's anchors of a page's headings."""
    found = set()
    for heading in re.findall(r"^#+\s+(.+)$", prose(page), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


LINKS = [
    (page, target)
    for page in PAGES
    for target in re.findall(r"\[[^\]]*\]\(([^)\s]+)\)", prose(page))
    if not re.match(r"[a-z]+:", target)
]


@pytest.mark.parametrize(
    ("page", "target"), LINKS, ids=[f"{p.relative_to(ROOT)}->{t}" for p, t in LINKS]
)
def test_every_relative_link_resolves(page: Path, target: str) -> None:
    path, _, anchor = target.partition("#")
    resolved = (page.parent / path).resolve() if path else page
    where = page.relative_to(ROOT)
    assert resolved.exists(), f"{where}: the link {target} points to nothing"
    if anchor and resolved.suffix == ".md":
        assert anchor in anchors(resolved), f"{where}: {resolved.name} has no heading #{anchor}"


NUMBER = re.compile(r"(?<![\w.])[-+]?(\d[\d,]*(?:\.\d+)?)")


def results_table_rows() -> list[str]:
    """The rows of the first table under the README's Results heading."""
    section = prose(README).split("\n## Results", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return rows[2:]  # past the header and its rule


ROWS = results_table_rows()


def test_the_readme_has_a_results_table() -> None:
    assert len(ROWS) >= 5


@pytest.mark.parametrize("row", ROWS)
def test_every_headline_figure_is_in_the_file_it_cites(row: str) -> None:
    cited = re.findall(r"\]\((experiments/results/[\w.-]+\.md)\)", row)
    assert len(cited) == 1, f"the row cites one results file: {row}"
    text = (ROOT / cited[0]).read_text()
    figures = NUMBER.findall(re.sub(r"\[[^\]]*\]\([^)]*\)", "", row))
    assert figures, f"a results row without figures: {row}"
    for figure in figures:
        pattern = rf"(?<![\d.,]){re.escape(figure)}(?![\d]|[.,]\d)"
        assert re.search(pattern, text), f"{figure} is not in {cited[0]} (row: {row})"
