"""A new user's path, through the real CLI and real services: after the demo has run, two
businesses bring their own exports (a classic retail log, and a telecom's churn-only CRM table),
`retain init` maps each with no hand edit, and each goes train -> package -> score -> serve ->
campaign -> report in its own workspace. Nothing of the demo appears in either business's
campaign or report, and the two services answer side by side."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from core.config_file import load_config
from tests.exports import ibm_telco, retail_log
from tests.helpers import SMALL_TRAINING, free_port, http, write_config

pytestmark = pytest.mark.slow  # three small trainings and two services

RETAIN = str(Path(sys.executable).parent / "retain")
CHEAP_OFFER = ["--offer-cost", "1", "--contact-cost", "0.2"]
"""An offer cheap enough that the small synthetic businesses have customers worth contacting."""


class User:
    """One shell of a user: the same RETAIN_HOME for every command, run in ``folder``."""

    def __init__(self, home: Path, folder: Path) -> None:
        self.folder = folder
        self.env = {**os.environ, "RETAIN_HOME": str(home)}
        for name in ("BENTOML_HOME", "MLFLOW_TRACKING_URI", "RETAIN_WORKSPACE"):
            self.env.pop(name, None)  # as on a fresh machine: every store is the workspace's
        self.commands = 0

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        self.commands += 1
        done = subprocess.run(
            [RETAIN, *args],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, f"retain {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr
        return done

    def serve(self, config: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
        port = free_port()
        process = subprocess.Popen(
            [RETAIN, "serve", "--config", str(config), "--port", str(port)],
            cwd=self.folder,
            env=self.env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return process, f"http://127.0.0.1:{port}"


def _ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    import time
    import urllib.request

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:  # not listening yet, 503 while loading, or a slow answer
            pass
        time.sleep(0.5)
    pytest.fail(f"{url} did not become ready:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def businesses(
    tmp_path_factory: pytest.TempPathFactory, demo_data: Path
) -> Iterator[dict[str, object]]:
    home = tmp_path_factory.mktemp("own_home")
    work = tmp_path_factory.mktemp("own_work")
    user = User(home, work)

    # the demo first, as `make demo` leaves it (smaller): its own workspace, ledger and store
    demo = write_config(
        work / "demo.yaml", demo_data / "retail", name="demo-retail", **SMALL_TRAINING
    )
    user.run("train", "--config", str(demo), "--quiet")
    user.run("package", "--config", str(demo))
    user.run("score", "--config", str(demo))
    user.run("campaign", "--budget", "500", *CHEAP_OFFER, "--config", str(demo))

    counts = {}
    configs = {}
    for name, frame, file in (
        ("shop", retail_log(customers=300), "Online Retail.csv.gz"),
        ("telco", ibm_telco(customers=800), "Telco-Customer-Churn.csv"),
    ):
        before = user.commands
        folder = work / name
        folder.mkdir()
        frame.to_csv(folder / file, index=False)
        config = folder / "config.yaml"
        user.run("init", str(folder / file), "--out", str(config), "--name", name)
        trained = user.run("train", "--config", str(config), "--quiet").stdout
        named = load_config(config).name
        assert f"{named}-churn v1: champion" in trained, trained
        if name == "shop":  # a log with amounts has a CLV model too
            assert f"{named}-clv v1: champion" in trained, trained
        # from here on no --config: the current workspace is the one train chose
        user.run("package")
        user.run("score")
        user.run("campaign", "--budget", "500", *CHEAP_OFFER)
        user.run("report")
        counts[name] = user.commands - before
        configs[name] = config

    logs = {name: work / f"{name}.log" for name in configs}
    servers = {name: user.serve(configs[name], logs[name]) for name in configs}
    try:
        for name, (process, url) in servers.items():
            _ready(url, process, logs[name])
        yield {
            "home": home,
            "configs": configs,
            "urls": {name: url for name, (_, url) in servers.items()},
            "commands": counts,
            "demo_ids": set(pd.read_csv(demo_data / "retail" / "customers.csv")["customer_id"]),
        }
    finally:
        for process, _ in servers.values():
            os.killpg(process.pid, 15)
            process.wait(timeout=30)


def _state(businesses: dict[str, object], name: str) -> Path:
    configs: dict[str, Path] = businesses["configs"]  # type: ignore[assignment]
    workspace = load_config(configs[name]).name
    home: Path = businesses["home"]  # type: ignore[assignment]
    return home / "workspaces" / workspace


@pytest.mark.parametrize("name", ["shop", "telco"])
def test_a_business_goes_from_its_export_to_a_report_in_six_commands(
    businesses: dict[str, object], name: str
) -> None:
    assert businesses["commands"][name] == 6  # type: ignore[index]
    scores = _state(businesses, name) / "scores"
    assert (scores / "report.html").is_file()
    assert (scores / "campaign.csv").is_file()


@pytest.mark.parametrize("name", ["shop", "telco"])
def test_nothing_of_the_demo_appears_in_a_business_campaign_or_report(
    businesses: dict[str, object], name: str
) -> None:
    scores = _state(businesses, name) / "scores"
    demo_ids: set[str] = businesses["demo_ids"]  # type: ignore[assignment]
    listed = set(pd.read_csv(scores / "campaign.csv", dtype=str)["customer_id"])
    scored = set(pd.read_parquet(scores / "scores.parquet")["customer_id"])
    assert listed <= scored
    assert not listed & demo_ids
    report = (scores / "report.html").read_text()
    for campaign in ("winter_winback", "spring_loyalty", "demo-retail"):
        assert campaign not in report
    assert not any(i in report for i in list(demo_ids)[:200])


def test_the_two_services_answer_side_by_side_each_for_its_own_customers(
    businesses: dict[str, object],
) -> None:
    urls: dict[str, str] = businesses["urls"]  # type: ignore[assignment]
    answers = {}
    for name, url in urls.items():
        ids = pd.read_parquet(_state(businesses, name) / "scores" / "scores.parquet")[
            "customer_id"
        ].tolist()[:5]
        status, body = http("POST", f"{url}/score_ids", {"customer_ids": ids})
        assert status == 200, body
        assert [s["customer_id"] for s in body["scores"]] == ids
        assert all(s.get("error") is None for s in body["scores"]), body
        answers[name] = ids
        status, info = http("POST", f"{url}/model_info", {})
        assert status == 200, info
    # each service knows only its own business
    status, body = http("POST", f"{urls['shop']}/score_ids", {"customer_ids": answers["telco"]})
    assert status == 200
    assert all(s.get("error") for s in body["scores"]), body
