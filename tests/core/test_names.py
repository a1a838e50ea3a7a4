"""core.names: one registry of task and model names, with the plain names the report shows."""

from __future__ import annotations

from typing import get_args

import pytest

from core import config, names
from model.uplift_plot import qini_figure
from retention.report_words import model_name


def test_every_model_has_a_plain_name_and_known_tasks() -> None:
    for key, entry in names.MODELS.items():
        assert entry.key == key
        assert entry.plain
        assert entry.plain != key
        assert entry.tasks
        assert set(entry.tasks) <= set(names.TASKS)
    assert len({m.plain for m in names.MODELS.values()}) == len(names.MODELS)


def test_the_report_shows_the_registry_plain_names() -> None:
    assert model_name(names.LIGHTGBM_BTYD) == names.MODELS[names.LIGHTGBM_BTYD].plain
    assert model_name("bgnbd") == "classic repeat-purchase model (BG/NBD)"
    assert model_name("a_model_of_another_version") == "a_model_of_another_version"


def test_the_qini_plot_labels_come_from_the_registry() -> None:
    figure = qini_figure({names.X_LEARNER: [0.0, 0.1], names.RANDOM: [0.0, 0.05]})
    labels = [line.get_label() for line in figure.axes[0].get_lines()]
    assert labels[:2] == ["uplift model (X-learner)", "random targeting"]


@pytest.mark.parametrize(
    ("allowed", "task"),
    [
        (get_args(config.ServableChurn), names.CHURN),
        (get_args(config.ServableClv), names.CLV),
        (config.SERVABLE_CHURN, names.CHURN),
        (config.SERVABLE_CLV, names.CLV),
        (get_args(config.UpliftLearnerName), names.UPLIFT),
    ],
)
def test_the_config_names_only_registered_models_of_their_task(
    allowed: tuple[str, ...], task: str
) -> None:
    assert set(allowed) <= set(names.task_models(task))


def test_the_clv_comparison_models_are_registered() -> None:
    compare = config.ClvConfig.model_fields["compare"].annotation
    (literal,) = get_args(compare)
    assert set(get_args(literal)) <= set(names.task_models(names.CLV))
