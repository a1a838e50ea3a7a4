"""Expected incremental profit of contacting a customer, from a measured effect of the offer.

One definition for the uplift evaluation in training and for ``retain campaign``'s targeting:

    profit = incremental value x gross margin - contact cost - offer cost x P(retained | offered)

The incremental value is the spend the offer adds over the horizon (an uplift model's value
effect, or the churn effect times the customer's value). The offer is paid by those who redeem
it, taken to be the customers retained under the offer: ``1 - churn probability + uplift``.
"""

from __future__ import annotations

import numpy as np

from core.economics import Economics


def expected_incremental_profit(
    uplift: np.ndarray,
    incremental_value: np.ndarray,
    churn_probability: np.ndarray,
    economics: Economics,
) -> np.ndarray:
    """Expected profit of contacting each customer (see the module docstring).

    ``uplift`` is the reduction in churn probability the offer brings (positive: it helps),
    ``incremental_value`` the spend it adds, ``churn_probability`` the risk without it.
    """
    uplift = np.asarray(uplift, dtype=np.float64)
    redeemed = np.clip(1.0 - np.asarray(churn_probability, dtype=np.float64) + uplift, 0.0, 1.0)
    return (
        np.asarray(incremental_value, dtype=np.float64) * economics.gross_margin
        - economics.contact_cost
        - economics.offer_cost * redeemed
    )
