"""Every command given --config refuses a bad file as `retain train` does, with the same lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.retain.test_cli import SUBCOMMANDS, run

EXTRA_ARGS = {
    "features": ("--as-of", "2024-06-30"),
    "campaign": ("--budget", "100"),
    "campaign-results": ("winter_winback",),
    "promote": ("churn", "1"),
    "rollback": ("churn",),
}
"""What a command needs beside --config to get as far as reading it."""
WITH_CONFIG = sorted(name for name, flags in SUBCOMMANDS.items() if "--config" in flags)


def test_the_commands_with_a_config_are_read_from_the_app() -> None:
    assert {"features", "train", "score", "package", "models", "campaign", "report"} <= set(
        WITH_CONFIG
    )


@pytest.fixture(scope="module")
def bad_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config whose data section is fine and whose other keys are not."""
    folder = tmp_path_factory.mktemp("bad-config")
    (folder / "snapshot.csv").write_text("id,churned\nA,1\nB,0\n")
    path = folder / "shop.yaml"
    path.write_text(
        "name: shop\n"
        "data:\n  snapshots:\n    path: snapshot.csv\n"
        "    columns: {customer_id: id, churned: churned}\n    as_of: 2024-06-30\n"
        "horizon_dayz: 90\n"
        'registry: {churn: "shop\'s-churn"}\n'
    )
    return path


EXPECTED = [
    "  - registry.churn: not a registered model name MLflow and BentoML both accept: give 1 to 63 "
    "letters, digits, '-', '_' or '.', starting and ending with a letter or digit (e.g. "
    'my-shop-churn) (got "shop\'s-churn")',
    "  - horizon_dayz: unknown key; valid keys here: name, description, data,",
]


@pytest.mark.parametrize("command", WITH_CONFIG)
def test_every_command_refuses_what_train_refuses(
    command: str, bad_config: Path, tmp_path: Path
) -> None:
    done = run(command, "--config", str(bad_config), *EXTRA_ARGS.get(command, ()), cwd=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.splitlines()
    assert lines[0] == f"error: {bad_config} is invalid:"
    assert lines[1] == EXPECTED[0]
    assert lines[2].startswith(EXPECTED[1])
    assert "Traceback" not in done.stderr
