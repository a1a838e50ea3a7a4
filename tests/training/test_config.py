"""The experiment config: typed, frozen, and every mistake named with its path and the valid keys."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest
import yaml

from core.config import EmpcConfig, ExperimentConfig
from core.config_file import ConfigFile, load_config, parse_config
from core.errors import ConfigError
from tests.helpers import ROOT

MINIMAL = {"name": "x", "data": {"transactions": {"path": "tx.csv"}}}


def test_the_shipped_experiment_configs_load() -> None:
    for path in sorted((ROOT / "experiments").glob("*.yaml")):
        config = load_config(path)
        sources = config.data.sources()
        assert sources, path
        assert all(source.path.is_absolute() for source in sources.values()), path


def test_relative_data_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "c.yaml"
    path.write_text("name: x\ndata:\n  transactions:\n    path: ../data/tx.csv\n")
    assert load_config(path).data.transactions.path == (tmp_path / "data" / "tx.csv").resolve()


def test_defaults_are_sensible_and_overridable() -> None:
    config = parse_config({**MINIMAL, "horizon_days": 30, "churn": {"lightgbm": {"num_leaves": 7}}})
    assert config.horizon_days == 30
    assert config.churn.lightgbm.num_leaves == 7
    assert config.clv.lightgbm.num_leaves == 15
    assert config.promotion.churn_metric == "roc_auc"
    assert config.contractual is False
    with_subs = parse_config(
        {**MINIMAL, "data": {**MINIMAL["data"], "subscriptions": {"path": "s.csv"}}}
    )
    assert with_subs.contractual is True


def test_config_is_frozen() -> None:
    config = parse_config(MINIMAL)
    with pytest.raises(pydantic.ValidationError):
        config.horizon_days = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {**MINIMAL, "horizn_days": 90},
            "horizn_days: unknown key; valid keys here: name, description, data,",
        ),
        (
            {**MINIMAL, "churn": {"lightgbm": {"num_leavs": 3}}},
            "churn.lightgbm.num_leavs: unknown key; valid keys here: n_estimators, learning_rate, num_leaves",
        ),
        (
            {**MINIMAL, "data": {"transactions": {"path": "t.csv", "sepp": ";"}}},
            "data.transactions.sepp: unknown key; valid keys here: path, columns, format, sep",
        ),
        ({**MINIMAL, "horizon_days": "ninety"}, "horizon_days: Input should be a valid integer"),
        (
            {**MINIMAL, "horizon_days": 0},
            "horizon_days: Input should be greater than or equal to 1",
        ),
        ({"name": "x"}, "data: required key is missing"),
        ({**MINIMAL, "families": ["rfm", "vibes"]}, "unknown feature families ['vibes']"),
        (
            {**MINIMAL, "promotion": {"churn_metric": "accuracy"}},
            "promotion.churn_metric: Input should be",
        ),
        (
            {**MINIMAL, "data": {"transactions": {"path": "t.csv", "columns": {"amout": "Price"}}}},
            "unknown canonical column(s) ['amout']; valid: ['customer_id', 'timestamp', 'amount'",
        ),
    ],
)
def test_bad_configs_name_the_key_and_what_was_expected(raw: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(raw, source="exp.yaml")
    assert "exp.yaml is invalid" in str(info.value)
    assert expected in str(info.value)


def test_unreadable_config_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_config(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(listy)


def test_the_model_carries_a_description_for_every_field() -> None:
    undocumented = [
        n
        for n, f in ExperimentConfig.model_fields.items()
        if not f.description and n != "description"
    ]
    assert undocumented == []


def test_promotion_keys_default_to_a_95_percent_interval_and_joint_promotion() -> None:
    promotion = parse_config(MINIMAL).promotion
    assert promotion.confidence_level == 0.95
    assert promotion.bootstrap_replicates == 1000
    assert promotion.min_improvement == 0.0
    assert promotion.separately is False
    with pytest.raises(
        ConfigError, match=r"promotion\.confidence_level: Input should be less than 1"
    ):
        parse_config({**MINIMAL, "promotion": {"confidence_level": 95}})
    with pytest.raises(
        ConfigError, match=r"promotion\.bootstrap_replicates: Input should be greater"
    ):
        parse_config({**MINIMAL, "promotion": {"bootstrap_replicates": 10}})


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("horizon_days", 0, "horizon_days: Input should be greater than or equal to 1"),
        ("economics", {"margin": 0.2}, "economics.margin: unknown key; valid keys here: currency"),
        ("registry", {"churn": [1]}, "registry.churn: Input should be a valid string"),
        ("engine", "spark", "engine: Input should be 'pandas' or 'dask'"),
        ("dask", {"partitions": 0}, "dask.partitions: Input should be greater than or equal to 1"),
        ("families", ["rfm", "vibes"], "unknown feature families ['vibes']"),
    ],
)
def test_one_section_read_alone_gives_the_full_configs_error(
    tmp_path: Path, key: str, value: object, expected: str
) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump({**MINIMAL, key: value}))
    with pytest.raises(ConfigError) as whole:
        load_config(path)
    with pytest.raises(ConfigError) as alone:
        getattr(ConfigFile.read(path), {"dask": "engine"}.get(key, key))()
    assert expected in str(whole.value)
    assert expected in str(alone.value)
    assert "exp.yaml is invalid" in str(alone.value)


def test_every_key_a_file_sets_is_validated_even_when_one_section_is_read(
    tmp_path: Path,
) -> None:
    """Issue 29: `retain features` accepted keys that `retain train` refused."""
    path = tmp_path / "exp.yaml"
    path.write_text(
        "name: x\ndata: {transactions: {path: tx.csv}}\nchurn: {nonsense: 1}\nhorizon_days: 0\n"
    )
    with pytest.raises(ConfigError) as whole:
        load_config(path)
    with pytest.raises(ConfigError) as read:
        ConfigFile.read(path)
    assert str(read.value) == str(whole.value)
    assert "  - churn.nonsense: unknown key; valid keys here: lightgbm," in str(read.value)
    assert len(str(read.value).splitlines()) == 3  # both errors at once


def test_a_section_read_alone_defaults_when_absent(tmp_path: Path) -> None:
    """Only a missing top-level key is left to the command that needs it."""
    path = tmp_path / "exp.yaml"
    path.write_text("data: {transactions: {path: tx.csv}}\n")
    file = ConfigFile.read(path)
    defaults = parse_config(MINIMAL)
    assert file.horizon_days() == defaults.horizon_days
    assert file.economics() == defaults.economics
    assert file.registry() == defaults.registry
    assert file.engine() == (defaults.engine, defaults.dask)
    assert file.families() is None
    assert file.data().transactions.path == (tmp_path / "tx.csv").resolve()
    assert not file.has("economics")


def test_the_dask_work_folder_is_relative_to_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump({**MINIMAL, "dask": {"work_dir": "scratch"}}))
    assert load_config(path).dask.work_dir == tmp_path / "scratch"
    assert ConfigFile.read(path).engine()[1].work_dir == tmp_path / "scratch"


def test_costs_live_in_economics_and_the_former_empc_keys_move_there(tmp_path: Path) -> None:
    config = parse_config({**MINIMAL, "economics": {"offer_cost": 4.0, "contact_cost": 0.5}})
    assert (config.economics.offer_cost, config.economics.contact_cost) == (4.0, 0.5)
    assert "incentive" not in EmpcConfig.model_fields
    old = {**MINIMAL, "empc": {"incentive": 7.0, "contact_cost": 2.0, "clv": 300.0}}
    with pytest.warns(FutureWarning) as caught:
        moved = parse_config(old)
    notes = [str(w.message) for w in caught]
    assert any("empc.incentive is deprecated: the cost is economics.offer_cost" in n for n in notes)
    assert (moved.economics.offer_cost, moved.economics.contact_cost) == (7.0, 2.0)
    assert moved.empc.clv == 300.0
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(old))
    with pytest.warns(FutureWarning):
        assert ConfigFile.read(path).economics() == moved.economics
    both = {**old, "economics": {"offer_cost": 9.0}}
    with pytest.raises(ConfigError, match="give one cost twice"):
        parse_config(both)
    with pytest.raises(ConfigError, match=r"economics\.offer_cost \(250\.0\) must be below empc"):
        parse_config({**MINIMAL, "economics": {"offer_cost": 250.0}})


@pytest.mark.parametrize(
    "name", ["my'churn", 'churn"', "shop/churn", "shop:churn", "-churn", "churn.", "x" * 64, ""]
)
def test_a_registry_name_mlflow_or_bentoml_refuses_is_a_config_error(name: str) -> None:
    from bentoml import Tag

    with pytest.raises(ValueError, match="not a valid BentoML tag"):
        Tag(name)  # BentoML refuses every one of them as a model name
    with pytest.raises(ConfigError) as refused:
        parse_config({**MINIMAL, "registry": {"clv": name}})
    assert str(refused.value).splitlines()[1] == (
        "  - registry.clv: not a registered model name MLflow and BentoML both accept: give 1 to "
        "63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit (e.g. "
        f"my-shop-churn) (got {name!r})"
    )


@pytest.mark.parametrize("name", ["c", "crm-churn", "My_Shop.v2", "x" * 63, "2024-churn"])
def test_registry_names_mlflow_and_bentoml_accept_pass(name: str) -> None:
    from bentoml import Tag

    assert parse_config({**MINIMAL, "registry": {"churn": name}}).registry.churn == name
    Tag(name)  # BentoML's own check of a tag name
