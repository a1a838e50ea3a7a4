"""The uplift bundle on disk and its effects joined onto batch scores by customer id."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.config import RegistryConfig, UpliftLightGBMParams
from core.config_file import ConfigFile
from core.errors import ConfigError
from model.encoding import FeatureEncoding
from model.uplift_bundle import INCREMENTAL_VALUE, UPLIFT, UpliftBundle
from serving.uplift_store import PackagedUplift, with_uplift
from training.uplift import XLearner


@pytest.fixture(scope="module")
def bundle() -> UpliftBundle:
    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame(
        {"a": rng.normal(size=n), "b": rng.normal(size=n)},
        index=pd.Index([f"C{i:04d}" for i in range(n)], name="customer_id"),
    )
    t = rng.integers(0, 2, n)
    y = (rng.uniform(size=n) < 0.5 + 0.3 * t * (frame["a"] > 0)).astype(int)
    encoding = FeatureEncoding.fit(frame)
    lightgbm = UpliftLightGBMParams(min_child_samples=20, n_estimators=20)
    params = {"feature_names": ("a", "b"), "lightgbm": lightgbm}
    X = encoding.transform(frame)
    churn = XLearner("binary", **params).fit(X, y, t)
    value = XLearner("continuous", **params).fit(X, y * 50.0, t)
    return UpliftBundle(
        encoding=encoding,
        families=[],
        horizon_days=90,
        learner="x_learner",
        churn_effect=churn.final_stage_,
        value_effect=value.final_stage_,
        card={"experiment": "test"},
    )


def test_a_saved_bundle_loads_with_the_same_effects(bundle: UpliftBundle, tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [-1.0, 0.5, 2.0], "b": [0.0, 1.0, -1.0]})
    again = UpliftBundle.load(bundle.save(tmp_path / "u"))
    pd.testing.assert_frame_equal(again.effects(frame), bundle.effects(frame))
    assert again.card == {"experiment": "test"}
    assert bundle.effects(frame)[UPLIFT].to_numpy() == pytest.approx(bundle.predict(frame))


def test_effects_join_the_scores_by_customer_id_whatever_the_row_order(
    bundle: UpliftBundle,
) -> None:
    features = pd.DataFrame(
        {"a": [-1.0, 0.5, 2.0], "b": [0.0, 1.0, -1.0]},
        index=pd.Index(["x", "y", "z"], name="customer_id"),
    )
    scores = pd.DataFrame({"customer_id": ["z", "x"], "churn_probability": [0.2, 0.7]})
    out, note = with_uplift(scores, features, PackagedUplift(bundle, "uplift:4"))
    assert note is None
    expected = bundle.effects(features.loc[["z", "x"]])
    np.testing.assert_allclose(out[UPLIFT], expected[UPLIFT])
    np.testing.assert_allclose(out[INCREMENTAL_VALUE], expected[INCREMENTAL_VALUE])
    assert (out["uplift_model"] == "uplift:4").all()
    # a feature set without the model's features: scores unchanged, and a note says why
    same, why = with_uplift(scores, features[["a"]], PackagedUplift(bundle, "uplift:4"))
    assert same is scores
    assert why is not None
    assert "['b']" in why


def test_the_uplift_name_comes_from_the_config_registry(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("registry: {churn: c, uplift: shop-uplift}\n")
    assert ConfigFile.read(config).registry().uplift == "shop-uplift"
    assert RegistryConfig().uplift == "uplift"
    config.write_text("registry: {uplift: [1]}\n")
    with pytest.raises(ConfigError, match=r"registry\.uplift: Input should be a valid string"):
        ConfigFile.read(config).registry()


@pytest.mark.slow
def test_an_uplift_model_left_in_the_store_is_not_paired_with_later_churn_models(
    trained: object,
) -> None:
    """The session's project was packaged without an uplift model; a stale one is ignored."""
    import bentoml

    from serving.uplift_store import BENTO_UPLIFT, load_packaged_uplift, uplift_tag

    with bentoml.models.create(BENTO_UPLIFT, metadata={}) as ref:
        (Path(ref.path) / "stale.txt").write_text("an uplift model from an earlier packaging")
    assert bentoml.models.get(f"{BENTO_UPLIFT}:latest").tag == ref.tag
    assert uplift_tag() == "none"
    assert load_packaged_uplift() is None


def test_a_bundle_carrying_the_response_model_scores_offer_response_by_customer_id(
    bundle: UpliftBundle, tmp_path: Path
) -> None:
    import dataclasses

    import lightgbm as lgb

    from model.uplift_bundle import OFFER_RESPONSE

    rng = np.random.default_rng(1)
    train = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
    stays = (rng.uniform(size=400) < 0.2 + 0.6 * (train["a"] > 0)).astype(int)
    model = lgb.LGBMClassifier(n_estimators=20, min_child_samples=20, verbose=-1)
    model.fit(bundle.encoding.transform(train), stays, feature_name=["a", "b"])
    with_response = dataclasses.replace(bundle, response=[(1.0, model.booster_)])
    again = UpliftBundle.load(with_response.save(tmp_path / "r"))
    features = pd.DataFrame(
        {"a": [-1.0, 0.5, 2.0], "b": [0.0, 1.0, -1.0]},
        index=pd.Index(["x", "y", "z"], name="customer_id"),
    )
    matrix = pd.DataFrame(bundle.encoding.transform(features), columns=["a", "b"])
    expected = model.predict_proba(matrix)[:, 1]
    responses = again.responses(features)
    assert responses is not None
    np.testing.assert_allclose(responses.to_numpy(), expected, rtol=1e-12)
    assert responses.iloc[2] > responses.iloc[0]  # the planted signal: a > 0 stays when offered
    scores = pd.DataFrame({"customer_id": ["z", "x"], "churn_probability": [0.2, 0.7]})
    out, _ = with_uplift(scores, features, PackagedUplift(again, "uplift:5"))
    np.testing.assert_allclose(out[OFFER_RESPONSE], expected[[2, 0]], rtol=1e-12)
    # without a response stage (another policy won) the scores carry none
    plain, _ = with_uplift(scores, features, PackagedUplift(bundle, "uplift:4"))
    assert OFFER_RESPONSE not in plain
    assert bundle.responses(features) is None
