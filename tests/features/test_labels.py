"""Point-in-time labels and training snapshots, on hand-computed tiny businesses.

Labels look at ``(cutoff, cutoff + horizon]`` only; features at events up to the cutoff day only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import CutoffError
from features.build import CUTOFF, build_features
from features.labels import CHURN, FUTURE_VALUE, active_at, check_window, make_labels
from features.loading import CustomerData
from features.prepare import PreparedData, prepare, to_day
from features.snapshots import build_snapshots, month_end_cutoffs
from tests.features.tables import subscriptions, tx

AS_OF = "2021-06-30"


@pytest.fixture(scope="module")
def shop() -> PreparedData:
    """A shop whose data runs from 2020-01-01 to 2021-07-31; cutoff 2021-06-30, 30-day horizon.

    a: bought Jun 1; buys 20 on Jul 10 and returns 5 on Jul 15.
    b: bought May 1; in the horizon only returns 30 on Jul 5.
    c: bought Jun 15; buys again Jul 31, the day after the horizon ends (Jul 30).
    d: bought 2020-01-01 (over a year before) and Jul 5.
    e: only a return before the cutoff (Jun 1).
    f: first purchase Jul 20, after the cutoff.
    g: bought on the cutoff day (not in the horizon) and 12 on Jul 30, the horizon's last day.
    """
    return prepare(
        CustomerData(
            tx(
                ("a", "2021-06-01", 10.0),
                ("a", "2021-07-10", 20.0),
                ("a", "2021-07-15", -5.0),
                ("b", "2021-05-01", 30.0),
                ("b", "2021-07-05", -30.0),
                ("c", "2021-06-15", 25.0),
                ("c", "2021-07-31", 25.0),
                ("d", "2020-01-01", 40.0),
                ("d", "2021-07-05", 40.0),
                ("e", "2021-06-01", -5.0),
                ("f", "2021-07-20", 15.0),
                ("g", "2021-06-30T20:00:00", 99.0),
                ("g", "2021-07-30T23:00:00", 12.0),
            )
        )
    )


def test_non_contractual_churn_and_future_value(shop: PreparedData) -> None:
    # a: purchase Jul 10 -> stays; net 20 - 5 = 15.   b: a return is no purchase -> churns;
    # net -30 floored at 0.   c: Jul 31 is outside (Jun 30, Jul 30] -> churns, 0.
    # g: Jul 30 is inside -> stays; 12 (the 99 on the cutoff day is the past).
    # d (no purchase in the 365 days to the cutoff), e (never bought), f (first seen later): out.
    labels, report = make_labels(shop, AS_OF, 30)
    expected = pd.DataFrame(
        {CHURN: [0, 1, 1, 0], FUTURE_VALUE: [15.0, 0.0, 0.0, 12.0]},
        index=pd.Index(["a", "b", "c", "g"], name="customer_id", dtype="str"),
    )
    pd.testing.assert_frame_equal(labels, expected)
    assert report.labelled == 4
    assert report.churn_rate == 0.5
    assert report.cutoff == pd.Timestamp(AS_OF)
    assert report.horizon_days == 30
    assert report.excluded == {
        "known but without a purchase by the cutoff": 1,
        "no purchase in the 365 days to the cutoff": 1,
        "first seen after the cutoff": 1,
    }
    assert report.line() == (
        "cutoff 2021-06-30: 4 customers labelled, churn rate 50.0%; not labelled: "
        "1 known but without a purchase by the cutoff, 1 no purchase in the 365 days to the "
        "cutoff, 1 first seen after the cutoff"
    )


def test_active_days_none_labels_everyone_who_ever_bought(shop: PreparedData) -> None:
    # d bought in 2020 and again on Jul 5: now labelled, stays, 40.
    labels, report = make_labels(shop, AS_OF, 30, active_days=None)
    assert labels.index.tolist() == ["a", "b", "c", "d", "g"]
    assert labels.loc["d"].tolist() == [0, 40.0]
    assert "no purchase in the 365 days to the cutoff" not in report.excluded
    # a shorter activity window drops b (bought 60 days before) and c stays (15 days)
    short, _ = make_labels(shop, AS_OF, 30, active_days=30)
    assert short.index.tolist() == ["a", "c", "g"]


@pytest.fixture(scope="module")
def saas() -> PreparedData:
    """Subscriptions; cutoff 2021-06-30 with a 60-day horizon ending 2021-08-29.

    k: runs throughout; billed Jul 1 and Aug 1.  l: cancels Jul 15 for good; billed Jul 1.
    m: cancels Jul 15, resubscribes Aug 1; billed Aug 1.  n: ends Aug 29, the horizon's last day.
    o: ended May 1, before the cutoff.  p: first subscribes Jul 1, after the cutoff.
    """
    return prepare(
        CustomerData(
            tx(
                ("k", "2021-01-01", 19.0),
                ("k", "2021-07-01", 19.0),
                ("k", "2021-08-01", 19.0),
                ("l", "2021-07-01", 19.0),
                ("m", "2021-08-01", 19.0),
                ("o", "2021-04-01", 19.0),
            ),
            subscriptions=subscriptions(
                ("k", "2021-01-01", "", "basic", 19.0),
                ("l", "2021-01-01", "2021-07-15", "basic", 19.0),
                ("m", "2021-01-01", "2021-07-15", "basic", 19.0),
                ("m", "2021-08-01", "", "basic", 19.0),
                ("n", "2021-01-01", "2021-08-29", "basic", 19.0),
                ("o", "2021-01-01", "2021-05-01", "basic", 19.0),
                ("p", "2021-07-01", "", "basic", 19.0),
            ),
        )
    )


def test_contractual_churn_is_no_subscription_running_at_the_horizon_end(
    saas: PreparedData,
) -> None:
    # k runs -> 0, 38.  l cancelled -> 1, 19.  m runs again at the end -> 0, 19.
    # n's subscription ends on the horizon's last day: not running at its end -> 1, 0.
    # o is not running at the cutoff, p starts after it: not labelled.
    labels, report = make_labels(saas, AS_OF, 60)
    expected = pd.DataFrame(
        {CHURN: [0, 1, 0, 1], FUTURE_VALUE: [38.0, 19.0, 19.0, 0.0]},
        index=pd.Index(["k", "l", "m", "n"], name="customer_id", dtype="str"),
    )
    pd.testing.assert_frame_equal(labels, expected)
    assert report.excluded == {
        "without a subscription running at the cutoff": 1,
        "first seen after the cutoff": 1,
    }
    # the same business read as a shop: only k and o bought by the cutoff; k buys again
    shop_labels, _ = make_labels(saas, AS_OF, 60, contractual=False)
    assert shop_labels[CHURN].to_dict() == {"k": 0, "o": 1}


def test_active_at_is_the_labelled_population(saas: PreparedData, shop: PreparedData) -> None:
    active, _ = active_at(saas, to_day(AS_OF), contractual=True)
    assert saas.ids[active].tolist() == ["k", "l", "m", "n"]
    active, _ = active_at(shop, to_day(AS_OF))
    assert shop.ids[active].tolist() == ["a", "b", "c", "g"]


def test_cutoff_before_the_data_names_cutoff_horizon_and_range(shop: PreparedData) -> None:
    with pytest.raises(CutoffError) as err:
        make_labels(shop, "2019-12-31", 30)
    assert str(err.value) == (
        "cutoff 2019-12-31 (with a 30-day horizon) is before the data starts: the data runs "
        "from 2020-01-01 to 2021-07-31. Choose a later cutoff."
    )


def test_horizon_past_the_end_names_cutoff_horizon_range_and_the_latest_cutoff(
    shop: PreparedData,
) -> None:
    with pytest.raises(CutoffError) as err:
        make_labels(shop, "2021-07-15", 30)
    assert str(err.value) == (
        "cutoff 2021-07-15 with a 30-day horizon needs data to 2021-08-14, but the data runs "
        "from 2020-01-01 to 2021-07-31. Use a cutoff on or before 2021-07-01 or a shorter horizon."
    )
    check_window(shop, to_day("2021-07-01"), 30)  # the latest cutoff it suggests is fine
    with pytest.raises(CutoffError, match="horizon must be a positive number of days, got 0"):
        check_window(shop, to_day(AS_OF), 0)


def test_month_end_cutoffs(shop: PreparedData) -> None:
    # data 2020-01-01 .. 2021-07-31; 90 days of history -> from 2020-03-31; a 30-day horizon
    # -> up to 2021-07-01: month ends 2020-03-31 .. 2021-06-30, 16 of them
    monthly = month_end_cutoffs(shop, 30)
    assert len(monthly) == 16
    assert (monthly[0], monthly[-1]) == (pd.Timestamp("2020-03-31"), pd.Timestamp("2021-06-30"))
    quarterly = month_end_cutoffs(shop, 30, every_months=3)
    assert [c.date().isoformat() for c in quarterly] == [
        "2020-03-31",
        "2020-06-30",
        "2020-09-30",
        "2020-12-31",
        "2021-03-31",
        "2021-06-30",
    ]
    # 2021-07-31 - 748 days = 2019-07-14: nothing fits
    with pytest.raises(CutoffError, match="no month end between 2020-03-31 and 2019-07-14"):
        month_end_cutoffs(shop, 748)


def test_snapshots_are_features_and_labels_at_each_cutoff(shop: PreparedData) -> None:
    cutoffs = ["2021-06-30", "2021-05-31", "2021-04-30"]
    frame, reports = build_snapshots(shop, cutoffs, 30, progress=False)
    assert [r.cutoff for r in reports] == [pd.Timestamp(c) for c in sorted(cutoffs)]
    assert not frame.duplicated(["customer_id", CUTOFF]).any()
    assert frame[[CUTOFF, "customer_id"]].equals(
        frame[[CUTOFF, "customer_id"]].sort_values([CUTOFF, "customer_id"], ignore_index=True)
    )
    for cutoff, rows in frame.groupby(CUTOFF):
        labels, _ = make_labels(shop, cutoff, 30)
        expected = build_features(shop, cutoff).join(labels, how="inner")
        got = rows.set_index("customer_id").drop(columns=CUTOFF)
        pd.testing.assert_frame_equal(got, expected, check_names=False)
    # at 2021-06-30 the labelled customers are a, b, c, g (see the first test)
    last = frame.loc[frame[CUTOFF] == pd.Timestamp("2021-06-30"), "customer_id"].tolist()
    assert last == ["a", "b", "c", "g"]


def test_snapshots_check_every_cutoff_before_building(shop: PreparedData) -> None:
    with pytest.raises(CutoffError, match="cutoff 2021-07-15 with a 30-day horizon"):
        build_snapshots(shop, ["2021-05-31", "2021-07-15"], 30, progress=False)


def test_labels_never_depend_on_events_before_the_cutoff_beyond_eligibility() -> None:
    # the horizon, not the past, decides the label: the same future with different pasts
    future = [("x", "2021-07-10", 5.0), ("y", "2021-08-15", 5.0)]
    one = prepare(CustomerData(tx(("x", "2021-06-01", 1.0), ("y", "2021-06-01", 1.0), *future)))
    two = prepare(CustomerData(tx(("x", "2021-01-01", 9.0), ("y", "2021-06-29", 9.0), *future)))
    for prep in (one, two):
        labels, _ = make_labels(prep, AS_OF, 30)
        assert labels[CHURN].tolist() == [0, 1]
        np.testing.assert_array_equal(labels[FUTURE_VALUE].to_numpy(), [5.0, 0.0])
