"""Buy-'til-you-die models: BG/NBD purchase counts and Gamma-Gamma spend.

Implements the BG/NBD model of Fader, Hardie & Lee (2005), "Counting your customers the easy
way", and the Gamma-Gamma spend model of Fader, Hardie & Lee (2005), "RFM and CLV: using
iso-value curves", as scikit-learn style estimators written directly with numpy/scipy.

Both estimators take the standard BTYD summary table, one row per customer, as a pandas
DataFrame with the columns below or as a 2-D array with the columns in this order:

- ``frequency``: number of repeat purchase periods (total distinct purchase periods minus one);
- ``recency``: time between the first and the last purchase (0 when ``frequency`` is 0);
- ``T``: time between the first purchase and the end of the observation period;
- ``monetary_value`` (Gamma-Gamma only): mean value of the repeat purchases.

Times must all be in the same unit (e.g. weeks); forecast horizons ``t`` use that unit too.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, overload

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize
from scipy.sparse import issparse
from scipy.special import betaln, digamma, expit, gammaln
from scipy.stats import nbinom
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from model.btyd_closed_form import (
    alive_expected_purchases,
    conditional_expected_spend,
    dead_log_odds,
)

__all__ = ["BGNBD_COLUMNS", "GAMMA_GAMMA_COLUMNS", "BetaGeoFitter", "GammaGammaFitter"]

FloatArray = NDArray[np.float64]

BGNBD_COLUMNS: tuple[str, ...] = ("frequency", "recency", "T")
GAMMA_GAMMA_COLUMNS: tuple[str, ...] = ("frequency", "recency", "T", "monetary_value")

# Parameters are optimised as logs; these bounds (about 2e-9 .. 5e8) keep exp() finite while
# being far outside any plausible estimate.
_LOG_BOUND = 20.0
GRADIENT_TOL = 1e-6
"""Largest gradient entry of the mean objective (per log-parameter, relative to max(1, |value|))
that a sound fit may leave: moving a parameter by 1% then changes the mean log-likelihood per
customer by under 1e-8. The optimiser's own flag is not used: it varies with the BLAS kernel."""
RESTARTS = 3
"""Seeded extra starts tried when neither L-BFGS-B nor its Nelder-Mead rescue gives a sound fit."""
RESTART_SEED = 0


# --------------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------------


def _as_summary_array(X: Any, columns: Sequence[str]) -> FloatArray:
    """Return the summary columns of X as a float array, raising ValueError on bad input."""
    names = list(columns)
    if issparse(X):
        raise ValueError("sparse input is not supported; pass a DataFrame or a dense 2-D array")
    if isinstance(X, pd.DataFrame):
        missing = [c for c in names if c not in X.columns]
        if missing:
            raise ValueError(f"X is missing required column(s) {missing}; expected columns {names}")
        parts = []
        for name in names:
            col = X[name]
            if (
                not pd.api.types.is_numeric_dtype(col)
                or pd.api.types.is_bool_dtype(col)
                or pd.api.types.is_complex_dtype(col)
            ):
                raise ValueError(f"column '{name}' must be numeric, got dtype {col.dtype}")
            parts.append(col.to_numpy(dtype=np.float64, na_value=np.nan))
        arr = np.column_stack(parts) if parts else np.empty((len(X), 0))
    else:
        if isinstance(X, pd.Series):
            raise ValueError(f"X must be a DataFrame or a 2-D array with columns {names}")
        if np.iscomplexobj(X):
            raise ValueError("complex data is not supported; X must be real-valued")
        try:
            arr = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"X must be numeric with columns {names}: {exc}") from exc
        if arr.ndim != 2:
            raise ValueError(
                f"X must be 2-D with columns {names} (one row per customer), "
                f"got an array with {arr.ndim} dimension(s)"
            )
        if arr.shape[1] != len(names):
            raise ValueError(
                f"X has {arr.shape[1]} columns but {len(names)} are expected, in the order {names}"
            )
    if arr.shape[0] == 0:
        raise ValueError("X has no rows; at least one customer is needed")

    for j, name in enumerate(names):
        col = arr[:, j]
        n_nan = int(np.isnan(col).sum())
        if n_nan:
            raise ValueError(f"column '{name}' contains NaN in {n_nan} row(s)")
        n_inf = int(np.isinf(col).sum())
        if n_inf:
            raise ValueError(f"column '{name}' contains infinite values in {n_inf} row(s)")
        n_neg = int((col < 0).sum())
        if n_neg:
            raise ValueError(f"column '{name}' has negative values in {n_neg} row(s)")

    x, t_x, big_t = arr[:, 0], arr[:, 1], arr[:, 2]
    n_frac = int((x != np.floor(x)).sum())
    if n_frac:
        raise ValueError(
            f"column 'frequency' must hold whole numbers (repeat purchase counts); "
            f"{n_frac} row(s) are fractional"
        )
    n_bad = int((t_x > big_t).sum())
    if n_bad:
        raise ValueError(f"column 'recency' is greater than column 'T' in {n_bad} row(s)")
    n_bad = int(((x > 0) & (t_x == 0)).sum())
    if n_bad:
        raise ValueError(
            f"column 'recency' is 0 in {n_bad} row(s) with frequency > 0; repeat purchases "
            "must come after the first one (recency > 0)"
        )
    n_bad = int(((x == 0) & (t_x > 0)).sum())
    if n_bad:
        raise ValueError(
            f"column 'recency' is > 0 in {n_bad} row(s) with frequency 0; recency is the time "
            "from first to last purchase, so it must be 0 without repeat purchases"
        )
    return arr


def _check_hyperparameters(
    penalizer_coef: float, tol: float, max_iter: int, initial_params: Any, n_params: int
) -> FloatArray:
    """Validate the shared hyper-parameters at fit time; return the initial log-parameters."""
    if not np.isfinite(penalizer_coef) or penalizer_coef < 0:
        raise ValueError(f"penalizer_coef must be a finite number >= 0, got {penalizer_coef!r}")
    if not np.isfinite(tol) or tol <= 0:
        raise ValueError(f"tol must be a finite number > 0, got {tol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int | np.integer) or max_iter < 1:
        raise ValueError(f"max_iter must be an integer >= 1, got {max_iter!r}")
    if initial_params is None:
        return np.zeros(n_params)
    init = np.asarray(initial_params, dtype=np.float64)
    if init.shape != (n_params,) or not np.all(np.isfinite(init)) or np.any(init <= 0):
        raise ValueError(
            f"initial_params must be {n_params} finite positive numbers, got {initial_params!r}"
        )
    return np.clip(np.log(init), -_LOG_BOUND, _LOG_BOUND)


def _check_horizon(t: ArrayLike, name: str = "t") -> FloatArray:
    """Return t as a float array, raising ValueError unless it is finite and >= 0."""
    arr = np.asarray(t, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be finite and >= 0, got {t!r}")
    return arr


def _aggregate(rows: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Collapse identical rows to (unique rows, counts) so the likelihood is evaluated once each."""
    uniq, counts = np.unique(rows, axis=0, return_counts=True)
    return uniq, counts.astype(np.float64)


class FitOutcome(NamedTuple):
    """What :func:`_minimize_log_params` found: the best log-parameters and whether they are sound.

    ``sound`` is the judgement of the result itself (see :func:`unsound_reason`), never the
    optimiser's own success flag, which for a flat optimum varies with the CPU's BLAS kernel;
    ``optimiser_success`` keeps that flag for diagnosis only.
    """

    log_params: FloatArray
    n_iter: int
    sound: bool
    reason: str
    optimiser_success: bool


def unsound_reason(
    objective: Callable[[FloatArray], tuple[float, FloatArray]], log_params: FloatArray
) -> str:
    """Why an optimum of a mean objective over log-parameters is not sound; '' when it is.

    Sound means: the objective and its gradient are finite, no parameter is pinned at the
    optimiser's bounds (about 2e-9 or 5e8: run off to 0 or infinity), and every gradient entry is
    at most ``GRADIENT_TOL`` times max(1, |objective|), so no step can still improve the mean
    log-likelihood per customer by a visible amount.
    """
    value, grad = objective(log_params)
    if not (np.isfinite(value) and np.all(np.isfinite(grad)) and np.all(np.isfinite(log_params))):
        return "the log-likelihood or its gradient is not finite"
    if np.any(np.abs(log_params) >= _LOG_BOUND * (1.0 - 1e-9)):
        return "a parameter ran to the optimiser's bound (toward 0 or infinity)"
    largest = float(np.max(np.abs(grad)))
    if largest > GRADIENT_TOL * max(1.0, abs(value)):
        return f"the gradient at the solution is not small (largest entry {largest:.2g})"
    return ""


def _minimize_log_params(
    objective: Callable[[FloatArray], tuple[float, FloatArray]],
    x0: FloatArray,
    tol: float,
    max_iter: int,
    model: str,
) -> FitOutcome:
    """Minimise a smooth objective over log-parameters and judge the result, not the flag.

    L-BFGS-B from ``x0``; if its result is not sound, a Nelder-Mead rescue then a polish; if that
    is not sound either, ``RESTARTS`` seeded starts around ``x0``, keeping the lowest objective.
    A ConvergenceWarning says when even the best result is not sound. BLAS is limited to one
    thread: L-BFGS-B's tiny vector operations gain nothing from threads, and on a busy machine
    OpenBLAS thread hand-offs made a 10 ms fit take over 100 ms.
    """
    with threadpool_limits(limits=1, user_api="blas"):
        outcome = _minimize_log_params_unthreaded(objective, x0, tol, max_iter)
    if not outcome.sound:
        warnings.warn(
            f"{model} fit did not converge: {outcome.reason}", ConvergenceWarning, stacklevel=3
        )
    return outcome


def _lbfgsb(
    objective: Callable[[FloatArray], tuple[float, FloatArray]],
    x0: FloatArray,
    tol: float,
    max_iter: int,
) -> tuple[FloatArray, int, bool]:
    """One bounded L-BFGS-B run: (log-parameters, iterations, the optimiser's success flag)."""
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(x0)
    options = {"maxiter": max_iter, "ftol": 1e-15, "gtol": tol}
    res = minimize(objective, x0, jac=True, method="L-BFGS-B", bounds=bounds, options=options)
    return np.asarray(res.x, dtype=np.float64), int(res.nit), bool(res.success)


def _nelder_mead_rescue(
    objective: Callable[[FloatArray], tuple[float, FloatArray]],
    x0: FloatArray,
    tol: float,
    max_iter: int,
) -> tuple[FloatArray, int, bool]:
    """A derivative-free pass then an L-BFGS-B polish: gets L-BFGS-B off a flat ridge."""
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(x0)
    nm = minimize(
        lambda z: objective(z)[0],
        x0,
        method="Nelder-Mead",
        bounds=bounds,
        options={"maxiter": max_iter * len(x0), "xatol": 1e-10, "fatol": 1e-14},
    )
    log_params, n_iter, success = _lbfgsb(objective, np.asarray(nm.x), tol, max_iter)
    return log_params, int(nm.nit) + n_iter, success


def _minimize_log_params_unthreaded(
    objective: Callable[[FloatArray], tuple[float, FloatArray]],
    x0: FloatArray,
    tol: float,
    max_iter: int,
) -> FitOutcome:
    """Body of :func:`_minimize_log_params`, without the warning."""
    log_params, n_iter, success = _lbfgsb(objective, x0, tol, max_iter)
    reason = unsound_reason(objective, log_params)
    if not reason:
        return FitOutcome(log_params, n_iter, True, "", success)
    tried = [(log_params, success)]
    log_params, used, success = _nelder_mead_rescue(objective, log_params, tol, max_iter)
    n_iter += used
    reason = unsound_reason(objective, log_params)
    if not reason:
        return FitOutcome(log_params, n_iter, True, "", success)
    tried.append((log_params, success))
    rng = np.random.default_rng(RESTART_SEED)
    for _ in range(RESTARTS):
        start = np.clip(x0 + rng.normal(0.0, 1.0, len(x0)), -_LOG_BOUND, _LOG_BOUND)
        log_params, used, success = _lbfgsb(objective, start, tol, max_iter)
        n_iter += used
        tried.append((log_params, success))
    best, success = min(tried, key=lambda pair: _objective_or_inf(objective, pair[0]))
    reason = unsound_reason(objective, best)
    return FitOutcome(best, n_iter, not reason, reason, success)


def _objective_or_inf(
    objective: Callable[[FloatArray], tuple[float, FloatArray]], log_params: FloatArray
) -> float:
    """The objective at ``log_params``, +inf where it is not finite (so it never wins a min)."""
    value = float(objective(log_params)[0])
    return value if np.isfinite(value) else np.inf


# --------------------------------------------------------------------------------------------
# BG/NBD formulas
# --------------------------------------------------------------------------------------------


def _bgnbd_loglik(
    params: FloatArray, x: FloatArray, t_x: FloatArray, big_t: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Per-customer BG/NBD log-likelihood (paper eq. 6) and its gradient w.r.t. (r, α, a, b)."""
    r, alpha, a, b = params
    repeat = x > 0
    bx1 = np.where(repeat, b + x - 1.0, 1.0)  # b + x - 1 only appears when x > 0
    log_alpha_t = np.log(alpha + big_t)
    log_alpha_tx = np.log(alpha + t_x)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * log_alpha_t
    a4 = np.log(a) - np.log(bx1) - (r + x) * log_alpha_tx
    ll = a1 + a2 + np.where(repeat, np.logaddexp(a3, a4), a3)
    # w = share of the "dropped out after the last purchase" term in the likelihood
    w = np.where(repeat, expit(a4 - a3), 0.0)
    psi_ab, psi_abx = digamma(a + b), digamma(a + b + x)
    grad = np.empty((len(x), 4))
    grad[:, 0] = (
        digamma(r + x) - digamma(r) + np.log(alpha) - (1 - w) * log_alpha_t - w * log_alpha_tx
    )
    grad[:, 1] = r / alpha - (r + x) * ((1 - w) / (alpha + big_t) + w / (alpha + t_x))
    grad[:, 2] = psi_ab - psi_abx + w / a
    grad[:, 3] = psi_ab + digamma(b + x) - digamma(b) - psi_abx - w / bx1
    return ll, grad


def _bgnbd_objective(
    log_params: FloatArray,
    x: FloatArray,
    t_x: FloatArray,
    big_t: FloatArray,
    weights: FloatArray,
    penalizer_coef: float,
) -> tuple[float, FloatArray]:
    """Mean negative log-likelihood plus L2 penalty, and its gradient, in log-parameter space."""
    params = np.exp(log_params)
    ll, grad = _bgnbd_loglik(params, x, t_x, big_t)
    n = weights.sum()
    value = -float(weights @ ll) / n + penalizer_coef * float(params @ params)
    dvalue = -(weights @ grad) / n + 2.0 * penalizer_coef * params
    return value, dvalue * params


def _nbd_log_pmf_and_sf(
    r: float, alpha: float, t: FloatArray, n: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Poisson-gamma (NBD) count in t: log P(N = n) and P(N >= n), via scipy's exact nbinom."""
    prob = alpha / (alpha + t)
    return nbinom.logpmf(n, r, prob), nbinom.sf(n - 1, r, prob)


# --------------------------------------------------------------------------------------------
# Gamma-Gamma formulas
# --------------------------------------------------------------------------------------------


def _gamma_gamma_loglik(
    params: FloatArray, x: FloatArray, m: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Log density of the mean spend m of x transactions and its gradient w.r.t. (p, q, v)."""
    p, q, v = params
    px = p * x
    log_vmx = np.log(v + m * x)
    ll = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1.0) * np.log(m)
        + px * np.log(x)
        - (px + q) * log_vmx
    )
    psi_pxq = digamma(px + q)
    grad = np.empty((len(x), 3))
    grad[:, 0] = x * (psi_pxq - digamma(px) + np.log(m) + np.log(x) - log_vmx)
    grad[:, 1] = psi_pxq - digamma(q) + np.log(v) - log_vmx
    grad[:, 2] = q / v - (px + q) / (v + m * x)
    return ll, grad


def _gamma_gamma_objective(
    log_params: FloatArray,
    x: FloatArray,
    m: FloatArray,
    weights: FloatArray,
    penalizer_coef: float,
) -> tuple[float, FloatArray]:
    """Mean negative log-likelihood plus L2 penalty, and its gradient, in log-parameter space."""
    params = np.exp(log_params)
    ll, grad = _gamma_gamma_loglik(params, x, m)
    n = weights.sum()
    value = -float(weights @ ll) / n + penalizer_coef * float(params @ params)
    dvalue = -(weights @ grad) / n + 2.0 * penalizer_coef * params
    return value, dvalue * params


# --------------------------------------------------------------------------------------------
# Estimators
# --------------------------------------------------------------------------------------------


class BetaGeoFitter(BaseEstimator):
    """BG/NBD model: Poisson purchasing at rate λ ~ Gamma(r, α), dropout after each repeat
    purchase with probability p ~ Beta(a, b) (Fader, Hardie & Lee 2005).

    Parameters
    ----------
    penalizer_coef : float, default 0.0
        Weight of the L2 penalty ``penalizer_coef * (r² + α² + a² + b²)`` added to the mean
        negative log-likelihood (as in ``lifetimes``); 0 gives the maximum-likelihood estimate.
    tol : float, default 1e-10
        Gradient tolerance (``gtol``) of the L-BFGS-B optimiser on the mean log-likelihood.
    max_iter : int, default 1000
        Maximum number of optimiser iterations.
    initial_params : sequence of 4 floats or None, default None
        Starting (r, α, a, b); None starts from all ones.

    Attributes
    ----------
    params_ : dict[str, float]
        Fitted ``{"r", "alpha", "a", "b"}``; also available as ``r_``, ``alpha_``, ``a_``, ``b_``.
    log_likelihood_ : float
        Total (unpenalised) log-likelihood of the training data.
    n_iter_ : int
        Optimiser iterations used.
    converged_ : bool
        Whether the fit is sound by its result (``unsound_reason``: finite likelihood, no
        parameter at the optimiser's bounds, gradient small), not by the optimiser's flag; a
        ConvergenceWarning is raised otherwise.
    n_customers_ : int
        Number of training rows.
    """

    def __init__(
        self,
        penalizer_coef: float = 0.0,
        tol: float = 1e-10,
        max_iter: int = 1000,
        initial_params: Sequence[float] | None = None,
    ) -> None:
        self.penalizer_coef = penalizer_coef
        self.tol = tol
        self.max_iter = max_iter
        self.initial_params = initial_params

    def fit(self, X: Any, y: Any = None) -> BetaGeoFitter:
        """Fit (r, α, a, b) by maximum likelihood on the summary table X; y is ignored."""
        data = _as_summary_array(X, BGNBD_COLUMNS)
        x0 = _check_hyperparameters(
            self.penalizer_coef, self.tol, self.max_iter, self.initial_params, 4
        )
        rows, weights = _aggregate(data)
        x, t_x, big_t = rows.T
        penalizer = float(self.penalizer_coef)

        def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
            return _bgnbd_objective(log_params, x, t_x, big_t, weights, penalizer)

        outcome = _minimize_log_params(objective, x0, float(self.tol), int(self.max_iter), "BG/NBD")
        self.n_iter_, self.converged_ = outcome.n_iter, outcome.sound
        params = np.exp(outcome.log_params)
        self.r_, self.alpha_, self.a_, self.b_ = (float(v) for v in params)
        self.params_ = {"r": self.r_, "alpha": self.alpha_, "a": self.a_, "b": self.b_}
        self.log_likelihood_ = float(weights @ _bgnbd_loglik(params, x, t_x, big_t)[0])
        self.n_customers_ = int(data.shape[0])
        return self

    def _params(self) -> FloatArray:
        check_is_fitted(self, "params_")
        return np.array([self.r_, self.alpha_, self.a_, self.b_])

    def log_likelihood(self, X: Any) -> float:
        """Total log-likelihood of the summary table X under the fitted parameters."""
        params = self._params()
        x, t_x, big_t = _as_summary_array(X, BGNBD_COLUMNS).T
        return float(_bgnbd_loglik(params, x, t_x, big_t)[0].sum())

    def probability_alive(self, X: Any) -> FloatArray:
        """P(customer still active at T | frequency, recency, T), one value per row of X."""
        params = self._params()
        x, t_x, big_t = _as_summary_array(X, BGNBD_COLUMNS).T
        return np.asarray(expit(-dead_log_odds(params, x, t_x, big_t)), dtype=np.float64)

    def predict_proba_churn(self, X: Any) -> FloatArray:
        """P(customer has already churned) = 1 - probability_alive, without the cancellation."""
        params = self._params()
        x, t_x, big_t = _as_summary_array(X, BGNBD_COLUMNS).T
        return np.asarray(expit(dead_log_odds(params, x, t_x, big_t)), dtype=np.float64)

    def expected_purchases(self, t: ArrayLike, X: Any) -> FloatArray:
        """Expected purchases in the next t periods for each customer in X (paper eq. 10).

        t is a scalar or one value per row of X, in the same time unit as recency and T.
        """
        params = self._params()
        x, t_x, big_t = _as_summary_array(X, BGNBD_COLUMNS).T
        horizon = _check_horizon(t)
        if horizon.ndim and horizon.shape != x.shape:
            raise ValueError(
                f"t must be a scalar or have one value per row of X ({x.shape[0]}), "
                f"got shape {horizon.shape}"
            )
        p_alive = expit(-dead_log_odds(params, x, t_x, big_t))
        return np.asarray(p_alive * alive_expected_purchases(params, horizon, x, big_t))

    @overload
    def unconditional_expected_purchases(self, t: float) -> float: ...

    @overload
    def unconditional_expected_purchases(self, t: NDArray[Any] | Sequence[float]) -> FloatArray: ...

    def unconditional_expected_purchases(
        self, t: float | NDArray[Any] | Sequence[float]
    ) -> float | FloatArray:
        """E[X(t)]: expected repeat purchases in the first t periods of a new customer (eq. 9)."""
        params = self._params()
        horizon = _check_horizon(t)
        zeros = np.zeros_like(horizon)
        result = alive_expected_purchases(params, horizon, zeros, zeros)
        return float(result) if np.ndim(t) == 0 else result

    @overload
    def probability_of_n_purchases(self, t: float, n: int) -> float: ...

    @overload
    def probability_of_n_purchases(
        self, t: NDArray[Any] | Sequence[float], n: NDArray[Any] | Sequence[int] | int
    ) -> FloatArray: ...

    @overload
    def probability_of_n_purchases(
        self, t: float, n: NDArray[Any] | Sequence[int]
    ) -> FloatArray: ...

    def probability_of_n_purchases(
        self,
        t: float | NDArray[Any] | Sequence[float],
        n: int | NDArray[Any] | Sequence[int],
    ) -> float | FloatArray:
        """P(X(t) = n): probability that a new customer makes n repeat purchases in t (eq. 8)."""
        r, alpha, a, b = self._params()
        horizon = _check_horizon(t)
        count = np.asarray(n, dtype=np.float64)
        if not np.all(np.isfinite(count)) or np.any(count < 0) or np.any(count != np.floor(count)):
            raise ValueError(f"n must be whole numbers >= 0, got {n!r}")
        horizon, count = np.broadcast_arrays(horizon, count)
        log_pmf, sf = _nbd_log_pmf_and_sf(r, alpha, horizon, count)
        # still alive after n purchases, times NBD(n); plus dropped out right after the n-th
        # purchase, times P(NBD count >= n)  (B(a, b+n)/B(a, b) and B(a+1, b+n-1)/B(a, b))
        alive = np.exp(betaln(a, b + count) - betaln(a, b) + log_pmf)
        safe = np.where(count > 0, count, 1.0)
        dropped = np.where(count > 0, np.exp(betaln(a + 1, b + safe - 1) - betaln(a, b)) * sf, 0.0)
        result = np.asarray(alive + dropped, dtype=np.float64)
        return float(result) if np.ndim(t) == 0 and np.ndim(n) == 0 else result


class GammaGammaFitter(BaseEstimator):
    """Gamma-Gamma model of mean spend per transaction (Fader, Hardie & Lee 2005, RFM and CLV).

    Spend per transaction ~ Gamma(p, ν) with ν ~ Gamma(q, γ) across customers; ``v_`` is γ.
    Only customers with frequency > 0 and monetary_value > 0 are used in ``fit`` (the model is
    for the mean of repeat purchases, undefined without any); other rows are ignored. X has the
    columns ``frequency, recency, T, monetary_value``.

    Parameters
    ----------
    penalizer_coef : float, default 0.0
        Weight of the L2 penalty ``penalizer_coef * (p² + q² + v²)`` on the mean negative
        log-likelihood; 0 gives the maximum-likelihood estimate.
    tol : float, default 1e-10
        Gradient tolerance (``gtol``) of the L-BFGS-B optimiser.
    max_iter : int, default 1000
        Maximum number of optimiser iterations.
    initial_params : sequence of 3 floats or None, default None
        Starting (p, q, v); None starts from all ones.

    Attributes
    ----------
    params_ : dict[str, float]
        Fitted ``{"p", "q", "v"}``; also available as ``p_``, ``q_``, ``v_``.
    log_likelihood_ : float
        Total log-likelihood (density of the observed mean spends) of the fitted customers.
    n_iter_ : int
        Optimiser iterations used.
    converged_ : bool
        Whether the fit is sound by its result (``unsound_reason``), not by the optimiser's flag.
    n_customers_ : int
        Number of customers used in the fit (frequency > 0 and monetary_value > 0).
    """

    def __init__(
        self,
        penalizer_coef: float = 0.0,
        tol: float = 1e-10,
        max_iter: int = 1000,
        initial_params: Sequence[float] | None = None,
    ) -> None:
        self.penalizer_coef = penalizer_coef
        self.tol = tol
        self.max_iter = max_iter
        self.initial_params = initial_params

    def fit(self, X: Any, y: Any = None) -> GammaGammaFitter:
        """Fit (p, q, v) by maximising the likelihood of each customer's mean repeat spend."""
        data = _as_summary_array(X, GAMMA_GAMMA_COLUMNS)
        x0 = _check_hyperparameters(
            self.penalizer_coef, self.tol, self.max_iter, self.initial_params, 3
        )
        used = (data[:, 0] > 0) & (data[:, 3] > 0)
        if not used.any():
            raise ValueError(
                "GammaGammaFitter needs customers with frequency > 0 and monetary_value > 0; "
                "X has none"
            )
        rows, weights = _aggregate(data[used][:, [0, 3]])
        x, m = rows.T
        penalizer = float(self.penalizer_coef)

        def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
            return _gamma_gamma_objective(log_params, x, m, weights, penalizer)

        outcome = _minimize_log_params(
            objective, x0, float(self.tol), int(self.max_iter), "Gamma-Gamma"
        )
        self.n_iter_, self.converged_ = outcome.n_iter, outcome.sound
        params = np.exp(outcome.log_params)
        self.p_, self.q_, self.v_ = (float(v) for v in params)
        self.params_ = {"p": self.p_, "q": self.q_, "v": self.v_}
        self.log_likelihood_ = float(weights @ _gamma_gamma_loglik(params, x, m)[0])
        self.n_customers_ = int(used.sum())
        return self

    def conditional_expected_average_profit(
        self, frequency: ArrayLike, monetary_value: ArrayLike
    ) -> FloatArray:
        """E[mean spend | x, m_x] = (v + m_x x) p / (p x + q - 1): shrinks m_x to the population
        mean p v / (q - 1), which is what frequency 0 gives (inf if q <= 1)."""
        check_is_fitted(self, "params_")
        x = np.asarray(frequency, dtype=np.float64)
        m = np.asarray(monetary_value, dtype=np.float64)
        for name, arr in (("frequency", x), ("monetary_value", m)):
            if not np.all(np.isfinite(arr)) or np.any(arr < 0):
                raise ValueError(f"{name} must be finite and >= 0")
        return conditional_expected_spend(np.array([self.p_, self.q_, self.v_]), x, m)

    def expected_spend(self, bgnbd: BetaGeoFitter, X: Any, t: ArrayLike) -> FloatArray:
        """Expected total spend in the next t periods: BG/NBD expected purchases × expected
        mean spend (undiscounted; customers with frequency 0 get the population mean spend)."""
        check_is_fitted(self, "params_")
        data = _as_summary_array(X, GAMMA_GAMMA_COLUMNS)
        purchases = bgnbd.expected_purchases(t, data[:, :3])
        return purchases * self.conditional_expected_average_profit(data[:, 0], data[:, 3])
