"""Reading a campaign arm (treatment or control) from the ways CRMs export it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.schema import CONTROL_VALUES, TREATMENT_VALUES

ARM_HELP = (
    f"treatment ({', '.join(TREATMENT_VALUES)}) or control ({', '.join(CONTROL_VALUES)}), any case"
)


def parse_arm(values: pd.Series) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Arms as a nullable ``Int8`` series (1 treatment, 0 control, NA blank), with masks of
    blank values and of values that are no known arm.

    ``values`` may be text, numbers (1.0/0.0) or booleans; text is stripped and lower-cased.
    """
    if values.dtype.kind == "b":
        token = values.map({True: "1", False: "0"}).astype("str")
    elif values.dtype.kind in "iuf":
        token = values.astype("float64").map(lambda v: f"{v:g}" if np.isfinite(v) else "")
    else:
        token = values.astype("str").str.strip().str.lower()
        token = token.str.replace(r"^([01])\.0+$", r"\1", regex=True)
    token = token.where(values.notna(), "")
    blank = (token == "").to_numpy()
    is_treated = token.isin(TREATMENT_VALUES).to_numpy()
    is_control = token.isin(CONTROL_VALUES).to_numpy()
    arm = pd.Series(pd.array(np.where(is_treated, 1, 0), dtype="Int8"), index=values.index).where(
        is_treated | is_control, pd.NA
    )
    return arm, blank, ~(is_treated | is_control | blank)
