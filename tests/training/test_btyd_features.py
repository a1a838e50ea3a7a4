"""BTYD features in training: each cutoff with its own fit; the served encoding equals training."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from features.build import CUTOFF
from features.catalogue import BTYD_DERIVED_NAMES
from model.btyd_features import BTYD_SUMMARY, derive_btyd
from model.bundle import ModelBundle
from model.encoding import FeatureEncoding
from training.candidates import CANDIDATES, Fold
from training.pipeline import evaluate_candidates


def test_the_served_encoding_gives_the_training_columns_of_the_test_cutoff(
    small_fold: Fold,
) -> None:
    encoding = small_fold.encoding
    assert encoding.btyd == small_fold.data.btyd_params[small_fold.data.split.test]
    assert encoding.columns[-4:] == BTYD_DERIVED_NAMES
    served = FeatureEncoding.from_dict(encoding.to_dict())  # as the bundle stores it
    test = small_fold.frames["test"]
    np.testing.assert_array_equal(served.transform(test), small_fold.matrices["test"])
    # and they are the classic BG/NBD x Gamma-Gamma baseline's own predictions
    value = small_fold.matrices["test"][:, encoding.columns.index("btyd_expected_value")]
    np.testing.assert_array_equal(value, small_fold.btyd.spend)
    assert not np.isnan(value).any()


def test_each_training_cutoff_uses_its_own_fit(small_fold: Fold) -> None:
    fits = small_fold.data.btyd_params
    train = small_fold.frames["train"]
    matrix = small_fold.matrices["train"]
    cutoffs = pd.DatetimeIndex(train[CUTOFF])
    assert set(cutoffs.unique()) == set(small_fold.data.split.train)
    for cutoff in cutoffs.unique():
        rows = np.asarray(cutoffs == cutoff)
        expected = derive_btyd(train.loc[rows, list(BTYD_SUMMARY)].to_numpy(), fits[cutoff])
        np.testing.assert_array_equal(matrix[rows, -4:], expected)
        assert fits[cutoff] != fits[small_fold.data.split.test]


def test_lightgbm_btyd_bundle_serves_what_training_evaluated(
    small_fold: Fold, tmp_path: Path
) -> None:
    candidate = next(c for c in CANDIDATES if c.name == "lightgbm_btyd")
    evaluation = evaluate_candidates(small_fold, [candidate])
    (result,) = evaluation.results
    assert result.bundle is not None
    assert result.bundle.base_margin is not None
    served = ModelBundle.load(result.bundle.save(tmp_path / "clv"))
    assert served.base_margin == result.bundle.base_margin
    test = small_fold.frames["test"]
    np.testing.assert_array_equal(served.predict(test), result.test_pred)
    # the reasons' contributions still sum to log of the served value
    contributions = served.contributions(served.encoding.transform(test))
    np.testing.assert_allclose(contributions.sum(axis=1), np.log(result.test_pred), rtol=1e-9)


def test_lightgbm_btyd_is_not_fitted_without_the_btyd_features(
    small_fold: Fold, tmp_path: Path
) -> None:
    config = small_fold.config.model_copy(update={"btyd_features": False})
    data = replace(small_fold.data, btyd_params={})
    fold = Fold(config, data)
    assert fold.encoding.derived == ()
    candidate = next(c for c in CANDIDATES if c.name == "lightgbm_btyd")
    assert candidate.fit(fold) is None
