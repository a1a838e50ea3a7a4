"""``retain score`` on the dask engine: the same scores and lookup table as the pandas path, per
customer, with the partitioned scores inside the committed generation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from core.cutoff import Cutoff
from core.engines import DaskConfig
from features.engine import DaskEngine
from serving.batch import SCORES_PARTS
from serving.batch_dask import score_base_dask
from serving.generation import GENERATION, GENERATIONS, read_meta
from serving.lookup import read_feature_table
from tests.conftest import TrainedProject

pytestmark = pytest.mark.slow


def test_dask_scores_equal_the_pandas_path(
    trained: TrainedProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = pd.read_csv(trained.data / "transactions.csv", dtype=str, keep_default_na=False)
    folder = tmp_path / "transactions"
    folder.mkdir()
    for k, rows in enumerate(np.array_split(np.arange(len(raw)), 3)):
        raw.iloc[rows].to_parquet(folder / f"part-{k}.parquet", index=False)
    config = yaml.safe_load(trained.config.read_text())
    config["data"]["transactions"] = {"path": str(folder)}
    config["data"]["customers"]["path"] = str(
        (trained.config.parent / config["data"]["customers"]["path"]).resolve()
    )
    config["data"].pop("treatments", None)
    dask_config = tmp_path / "dask.yaml"
    dask_config.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("RETAIN_FEATURE_TABLE", str(tmp_path / "lookup" / "features.parquet"))

    settings = DaskConfig(workers=2, memory_limit="1GB")
    with DaskEngine(settings, work_dir=tmp_path / "work", progress=False) as engine:
        run = score_base_dask(
            dask_config, Cutoff.parse("latest"), out_dir=tmp_path / "scores", engine=engine
        )

    def by_id(path: Path) -> pd.DataFrame:
        frame = pd.read_parquet(path)
        return frame.sort_values("customer_id", ignore_index=True)

    ours, theirs = by_id(run.scores_parquet), by_id(trained.scores)
    assert len(ours) == len(theirs) > 0
    pd.testing.assert_frame_equal(ours, theirs, check_exact=True)

    def features(path: Path) -> pd.DataFrame:  # the table as the service reads it: the by-id
        # answers the pandas path precomputes into it are dropped (dask writes none yet)
        return read_feature_table(path).sort_index()

    pd.testing.assert_frame_equal(
        features(run.feature_table), features(trained.feature_table), check_exact=True
    )
    generation = read_meta(tmp_path / "scores")[GENERATION]
    parts = sorted((tmp_path / "scores" / GENERATIONS / generation / SCORES_PARTS).iterdir())
    assert len(parts) > 1
    stacked = pd.concat([pd.read_parquet(p) for p in parts])
    assert stacked.sort_values("customer_id", ignore_index=True)["churn_probability"].equals(
        theirs["churn_probability"]
    )
