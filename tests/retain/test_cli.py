"""The `retain` command line: a --help that teaches, and user mistakes without tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

RETAIN = str(Path(sys.executable).parent / "retain")
COMMANDS = (
    "demo-data",
    "init",
    "features",
    "train",
    "models",
    "promote",
    "rollback",
    "package",
    "serve",
    "score",
    "campaign",
    "campaigns",
    "campaign-results",
    "report",
)


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RETAIN, *args], cwd=cwd, capture_output=True, text=True, env=os.environ.copy(), timeout=300
    )


def test_help_explains_the_workflow_and_lists_every_command() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout
    assert "Workflow" in result.stdout
    assert "127.0.0.1:3000" in result.stdout


def test_retain_alone_prints_the_help() -> None:
    result = run()
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: retain")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = run(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("train", "--config", "does/not/exist.yaml"),
            "config file not found: does/not/exist.yaml",
        ),
        (("features",), "give --list, or --as-of (with --config"),
        (
            ("score", "--as-of", "09/12/2011"),
            "error: --as-of '09/12/2011' is ambiguous (9 December 2011 or 12 September 2011): "
            "give the ISO form, 2011-12-09 or 2011-09-12",
        ),
        (
            ("features", "--config", "experiments/demo.yaml", "--as-of", "25/12/2011"),
            "error: --as-of '25/12/2011' is not an ISO date: for 25 December 2011 give 2011-12-25",
        ),
        (
            ("features", "--config", "experiments/demo.yaml", "--as-of", "latest"),
            "error: --as-of 'latest' is not allowed here: give a day such as 2024-06-30",
        ),
        (
            ("trian",),
            "No such command 'trian'. Did you mean 'train', 'retrain'? (see `retain --help`)",
        ),
        (("campaign", "--budjet", "500"), "No such option: --budjet. Did you mean --budget?"),
        (("campaign",), "Missing option '--budget'. (see `retain campaign --help`)"),
        (("campaign", "--budget", "-1"), "--budget"),
        (("campaign", "--budget", "10", "--acceptance", "2"), "--acceptance"),
        pytest.param(
            ("promote", "no-such-model", "1"),
            "no-such-model",
            marks=pytest.mark.slow,  # creates an MLflow store: several seconds
        ),
    ],
)
def test_user_mistakes_exit_2_with_a_message_and_no_traceback(
    args: tuple[str, ...], message: str
) -> None:
    result = run(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "error:" in result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def _subcommands() -> dict[str, list[str]]:
    """Every subcommand of the typer app, with its long option names and --help."""
    import typer.main

    from retain.cli import app, register_commands

    register_commands()
    group = typer.main.get_command(app)
    commands = getattr(group, "commands", {})
    return {
        name: [*(o for p in command.params for o in p.opts if o.startswith("--")), "--help"]
        for name, command in commands.items()
    }


def _misspelt(flag: str) -> str:
    """``flag`` with two neighbouring letters of its name swapped (``--config`` -> ``--cnofig``)."""
    i = 2 + (len(flag) - 2) // 2 - 1
    return flag[:i] + flag[i + 1] + flag[i] + flag[i + 2 :]


SUBCOMMANDS = _subcommands()


def test_the_subcommands_are_read_from_the_app() -> None:
    assert set(COMMANDS) <= set(SUBCOMMANDS)


@pytest.mark.parametrize("command", sorted(SUBCOMMANDS))
def test_a_misspelt_flag_is_one_line_naming_the_closest_flag(command: str) -> None:
    flag = max(SUBCOMMANDS[command], key=len)  # --help if a command has no option of its own
    typo = _misspelt(flag)
    assert typo not in SUBCOMMANDS[command]
    result = run(command, typo, "1")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr == (
        f"error: No such option: {typo}. Did you mean {flag}? (see `retain {command} --help`)\n"
    )


def test_bad_data_file_is_reported_with_column_counts_and_examples(tmp_path: Path) -> None:
    data = tmp_path / "tx.csv"
    data.write_text(
        "customer_id,timestamp,amount\nA,2024-01-01,10\nB,not-a-date,5\nC,2024-01-02,abc\n"
    )
    config = tmp_path / "c.yaml"
    config.write_text(f"name: x\ndata:\n  transactions:\n    path: {data}\n    header: true\n")
    result = run(
        "features",
        "--config",
        str(config),
        "--as-of",
        "2024-01-02",
        "--out",
        str(tmp_path / "f.parquet"),
        "--strict",
    )
    assert result.returncode == 2
    assert "'timestamp' is not a date" in result.stderr
    assert "row 2: 'not-a-date'" in result.stderr
    assert "'amount' is not a finite number" in result.stderr
    assert "row 3: 'abc'" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_data_is_seeded_and_written_in_the_documented_format(tmp_path: Path) -> None:
    first = run("demo-data", "--out", str(tmp_path / "a"), "--customers", "300", "--seed", "3")
    second = run("demo-data", "--out", str(tmp_path / "b"), "--customers", "300", "--seed", "3")
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    for business, tables in (
        ("retail", ("transactions", "customers")),
        ("subscription", ("transactions", "customers", "subscriptions", "interactions")),
    ):
        for table in tables:
            a = (tmp_path / "a" / business / f"{table}.csv").read_bytes()
            assert a == (tmp_path / "b" / business / f"{table}.csv").read_bytes()
        assert (tmp_path / "a" / business / "truth.parquet").exists()
    header = (tmp_path / "a" / "retail" / "transactions.csv").read_text().splitlines()[0]
    assert header == "customer_id,timestamp,amount,order_id,quantity,product_id,category"


def test_crm_demo_export_gives_typed_features_and_names_a_missing_day(tmp_path: Path) -> None:
    import pandas as pd
    import yaml

    assert (
        run(
            "demo-data", "--business", "crm", "--customers", "300", "--out", str(tmp_path)
        ).returncode
        == 0
    )
    config = yaml.safe_load((ROOT / "experiments" / "crm.yaml").read_text())
    config["data"]["snapshots"]["path"] = str(tmp_path / "crm" / "snapshot.csv")
    path = tmp_path / "crm.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp_path / "f.parquet"
    result = run("features", "--config", str(path), "--as-of", "2024-06-30", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "TotalCharges                 numeric" in result.stderr
    frame = pd.read_parquet(out)
    assert len(frame) == 300
    assert frame["attr_PaperlessBilling"].isin([0.0, 1.0]).all()
    assert "attr_Email" not in frame
    missing = run("features", "--config", str(path), "--as-of", "2024-05-31", "--out", str(out))
    assert missing.returncode == 2
    assert "no rows of that day (2024-06-30)" in missing.stderr
    assert "Traceback" not in missing.stderr
