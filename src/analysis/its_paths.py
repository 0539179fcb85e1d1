"""Counterfactual paths of a structural time-series model: simulated from the fitted model,
or drawn from the posterior of a local-level model as bsts-causalimpact does.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy.linalg import lapack
from statsmodels.tsa.statespace.structural import UnobservedComponents

__all__ = [
    "BandedStates",
    "posterior_paths",
    "simulate_paths",
]


def simulate_paths(
    fit: Any,
    h: int,
    exog: np.ndarray | None,
    n_sims: int,
    n_param_draws: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Post-period paths, shape ``(h, n_sims)``, on the model's (transformed) scale."""
    if n_param_draws <= 0:
        return np.asarray(
            fit.simulate(nsimulations=h, repetitions=n_sims, anchor="end", exog=exog, rng=rng)
        ).reshape(h, n_sims)
    cov = np.asarray(fit.cov_params())
    if not np.all(np.isfinite(cov)):
        cov = np.zeros_like(cov)
    draws = rng.multivariate_normal(np.asarray(fit.params), cov, size=n_param_draws, method="eigh")
    variances = np.array([name.startswith("sigma2") for name in fit.model.param_names])
    draws[:, variances] = np.abs(draws[:, variances])
    per = np.full(n_param_draws, n_sims // n_param_draws)
    per[: n_sims - per.sum()] += 1
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for theta, k in zip(draws, per, strict=True):
            res = fit.model.filter(theta)
            sim = res.simulate(nsimulations=h, repetitions=int(k), anchor="end", exog=exog, rng=rng)
            out.append(np.asarray(sim).reshape(h, int(k)))
    return np.concatenate(out, axis=1)


def posterior_paths(
    z_pre: np.ndarray,
    h: int,
    exog: np.ndarray | None,
    kwargs: dict[str, Any],
    n_sims: int,
    burn: int,
    rng: np.random.Generator,
    prior: str = "flat",
    prior_level_sd: float = 0.01,
) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Gibbs sampler for a structural time series whose variances are all unknown.

    (One function of some 65 lines: the sweep loop shares the model, the smoother and
    five arrays; split, they would travel through a dozen arguments.)

    ``prior="causalimpact"`` (R CausalImpact's defaults on its standardised data): the
    training days are standardised, every state standard deviation gets bsts'
    ``SdPrior(prior_level_sd, sample.size = 32, upper.limit = 1)`` and the observation
    noise ``SdPrior(1, sample.size = 0.01, upper.limit = 1.2)`` (see
    :func:`_sd_prior_draw`); draws are put back on the series' scale. ``prior="flat"``:
    flat priors on the standard deviations, as described next.

    The model is set up on the training days followed by ``h`` missing days, with any
    regression coefficients in the state vector (``mle_regression=False``, diffuse).
    Each sweep draws all states jointly given the variances (the Cholesky-factor
    algorithm, :class:`BandedStates`, when there are no controls; statsmodels'
    Kalman-filter simulation smoother otherwise); the
    disturbances follow from the states, ``η_t = R'(α_{t+1} − T α_t)``; then each
    variance is drawn from its inverse-gamma full conditional given the training-period
    disturbances: with a flat prior on the standard deviation,
    ``σ² | · ~ IG((m − 1)/2, SS/2)`` for ``m`` disturbances with sum of squares ``SS``.
    The post-period states are left out of that step (they are drawn again with the
    next states), which keeps the chain exact and mixing fast.

    Returns
    -------
    signal, paths : numpy.ndarray
        Shape ``(h, n_sims)`` on the model's scale: the post-period signal (states
        through the design) and the signal plus observation noise.
    sd : dict
        Posterior median of each component's standard deviation.
    """
    if prior not in ("causalimpact", "flat"):
        raise ValueError(f"unknown prior {prior!r}; expected 'causalimpact' or 'flat'")
    centre, scale = 0.0, 1.0
    if prior == "causalimpact":  # sample on standardised data, as CausalImpact does
        centre = float(np.nanmean(z_pre))
        scale = float(np.nanstd(z_pre, ddof=1)) or 1.0
        z_pre = (z_pre - centre) / scale

    n = len(z_pre)
    endog = np.concatenate([z_pre, np.full(h, np.nan)])
    model = UnobservedComponents(endog, exog=exog, mle_regression=False, **kwargs)
    names = list(model.param_names)
    if not all(name.startswith("sigma2.") for name in names):
        raise ValueError(f"the Gibbs sampler handles variance parameters only, got {names}")
    irregular = names.index("sigma2.irregular")
    rows = _disturbance_rows(model, len(names), irregular)

    def draw(values: np.ndarray, state: bool) -> float:
        if prior == "flat":
            return _flat_sd_draw(values, rng)
        if state:
            return _sd_prior_draw(values, rng, prior_level_sd, 32.0, 1.0)
        return _sd_prior_draw(values, rng, 1.0, 0.01, 1.2)

    observed = ~np.isnan(z_pre)
    params = _start_values(z_pre, len(names), irregular, prior, prior_level_sd)
    select, transition = _time_invariant(model)
    # Without controls every state has its own disturbance, so the states' joint posterior
    # has a banded precision and is drawn by the Cholesky-factor algorithm (BandedStates,
    # statsmodels' CFA without its per-call set-up). Regression coefficients in the state
    # (controls) have no disturbance: those models use statsmodels' Kalman-filter smoother.
    banded = BandedStates.of(model, rows, irregular, z_pre) if exog is None else None
    smoother: Any = None if banded is not None else model.simulation_smoother(method="kfs")
    design = model.ssm["design"]
    signal = np.empty((h, n_sims))
    paths = np.empty((h, n_sims))
    kept = np.empty((n_sims, len(names)))
    for sweep in range(burn + n_sims):
        if banded is not None:
            states = banded.draw(params, rng.standard_normal((model.k_states, n + h)))
            fitted = design[0] @ states
        else:
            model.update(params)
            smoother.simulate(rng=rng)
            states = np.asarray(smoother.simulated_state)
            fitted = (
                np.einsum("ks,ks->s", design[0], states) if design.ndim == 3 else design[0] @ states
            )
        if sweep >= burn:
            k = sweep - burn
            signal[:, k] = fitted[n:]
            paths[:, k] = fitted[n:] + rng.normal(0.0, np.sqrt(params[irregular]), h)
            kept[k] = params
        new = params.copy()
        resid = z_pre[observed] - fitted[:n][observed]
        new[irregular] = draw(resid, state=False)
        shocks = select @ (states[:, 1:n] - transition @ states[:, : n - 1])
        for j, r in rows.items():
            new[j] = draw(shocks[r], state=True)
        params = new
    sd = {
        name.removeprefix("sigma2."): float(scale * np.sqrt(np.median(kept[:, j])))
        for j, name in enumerate(names)
    }
    return centre + scale * signal, centre + scale * paths, sd


def _time_invariant(model: Any) -> tuple[np.ndarray, np.ndarray]:
    """The model's selection (transposed: state change → disturbances) and transition."""
    selection = model.ssm["selection"]
    transition = model.ssm["transition"]
    if selection.ndim == 3 or transition.ndim == 3 or not np.isin(selection, (0, 1)).all():
        raise ValueError("the Gibbs sampler needs time-invariant 0/1 selection and transition")
    return selection.T, transition


class BandedStates:
    """Joint draws of all states of a structural time series given its variances.

    The Cholesky-factor algorithm (McCausland, Miller & Pelletier 2011; statsmodels'
    ``CFASimulationSmoother``): stacked time by time, the states ``α`` have a Gaussian
    posterior whose precision ``Ω`` is banded (lower bandwidth ``2k − 1`` for ``k``
    states) and whose mean solves ``Ω μ = b``; with ``Ω = L L'`` (LAPACK ``dpbtrf``), a
    draw is ``μ + L'⁻¹ u`` for standard normal ``u``, computed as
    ``L'⁻¹ (L⁻¹ b + u)``. Given the same ``u`` (shape ``(k, nobs)``, as statsmodels takes
    its ``variates``) it equals statsmodels' draw to rounding (tests/test_its.py); it
    exists because statsmodels re-initialises its model representation on every call,
    which cost three times the draw itself in the Gibbs sampler's sweeps.

    ``Ω`` is linear in the inverse variances, so each variance's share of the band is
    built once: ``Ω = prior + Σ_j band_j / σ²_j``. Assumes what statsmodels' CFA
    assumes and :meth:`of` checks: time-invariant matrices that no parameter changes (all
    parameters are variances), every state driven by its own disturbance (selection a
    permutation), an approximate diffuse initial state.
    """

    def __init__(
        self,
        transition: np.ndarray,
        selection: np.ndarray,
        design: np.ndarray,
        initial: tuple[np.ndarray, np.ndarray],
        disturbances: dict[int, np.ndarray],
        irregular: int,
        y: np.ndarray,
        nobs: int,
    ) -> None:
        k = transition.shape[0]
        observed = np.zeros(nobs)
        observed[: len(y)] = ~np.isnan(y)
        values = np.zeros(nobs)
        values[: len(y)] = np.nan_to_num(y)
        n_params = len(disturbances) + 1
        bands = []
        for j in range(n_params):
            on_diag = np.zeros((nobs, k, k))
            below = np.zeros((nobs - 1, k, k))
            if j == irregular:  # (y_t − Z α_t)² on observed days
                on_diag[:] = observed[:, None, None] * np.outer(design, design)
            else:  # (α_{t+1} − T α_t)' S_j (α_{t+1} − T α_t), S_j = R E_j R'
                picked = np.zeros(selection.shape[1])
                picked[disturbances[j]] = 1.0
                s = (selection * picked) @ selection.T
                on_diag[:-1] += transition.T @ s @ transition
                on_diag[1:] += s
                below[:] = -s @ transition
            bands.append(_band(on_diag, below))
        mean0, cov0 = initial
        on_diag = np.zeros((nobs, k, k))
        on_diag[0] = np.linalg.inv(cov0)
        prior = _band(on_diag, np.zeros((nobs - 1, k, k)))
        # Rows of (k·nobs, 2k), flattened: reshaped and transposed per draw they are the
        # Fortran-ordered band LAPACK reads, so it takes them without a copy.
        self._bands = np.stack([band.T.ravel() for band in bands])
        self._prior = prior.T.ravel()
        self._shape = (k * nobs, 2 * k)
        self._irregular = irregular
        self._rhs_obs = np.kron(observed * values, design)
        self._rhs_prior = np.zeros(k * nobs)
        self._rhs_prior[:k] = np.linalg.solve(cov0, mean0)
        self.k_states, self.nobs = k, nobs

    @classmethod
    def of(
        cls, model: Any, disturbances: dict[int, np.ndarray], irregular: int, y: np.ndarray
    ) -> BandedStates | None:
        """The sampler for a statsmodels state-space ``model`` whose first days are ``y``,
        or ``None`` when the model is outside the algorithm's assumptions."""
        if not all(name.startswith("sigma2.") for name in model.param_names):
            return None  # e.g. a cycle: its transition changes with the parameters
        ssm = model.ssm
        matrices = [np.asarray(ssm[name]) for name in ("transition", "selection", "design")]
        if any(m.ndim == 3 for m in matrices) or ssm["obs_intercept"].any():
            return None
        if ssm["state_intercept"].any() or model.k_endog != 1:
            return None
        transition, selection, design = matrices
        permutation = (
            selection.shape[0] == selection.shape[1]
            and np.isin(selection, (0, 1)).all()
            and (selection.sum(axis=0) == 1).all()
            and (selection.sum(axis=1) == 1).all()
        )
        if not permutation:  # a state without its own disturbance: Ω is singular
            return None
        if ssm.initialization.initialization_type != "approximate_diffuse":
            return None
        mean0, _, cov0 = ssm.initialization(model=ssm)
        return cls(
            transition,
            selection,
            design[0],
            (mean0, cov0),
            disturbances,
            irregular,
            y,
            model.nobs,
        )

    def draw(self, variances: np.ndarray, variates: np.ndarray) -> np.ndarray:
        """One joint draw of the states, shape ``(k_states, nobs)``, given the model's
        variance parameters (irregular and state, in its parameter order) and standard
        normal ``variates`` of shape ``(k_states, nobs)``."""
        inverse = 1.0 / np.asarray(variances, dtype=float)
        band = (self._prior + inverse @ self._bands).reshape(self._shape).T
        chol, info = lapack.dpbtrf(band, lower=1, overwrite_ab=1)
        if info:
            raise np.linalg.LinAlgError("the states' posterior precision is not positive definite")
        rhs = self._rhs_prior + self._rhs_obs * inverse[self._irregular]
        w, _ = lapack.dtbtrs(chol, rhs, uplo="L")
        x, _ = lapack.dtbtrs(chol, w + np.ravel(variates, order="F"), uplo="L", trans="T")
        return np.asarray(x).reshape(self.nobs, self.k_states).T


def _band(on_diag: np.ndarray, below: np.ndarray) -> np.ndarray:
    """Lower band storage (``2k`` rows, LAPACK's ``ab[d, c] = A[c + d, c]``) of the
    symmetric block-tridiagonal matrix with diagonal blocks ``on_diag`` (nobs, k, k) and
    blocks ``below`` (nobs − 1, k, k) under them."""
    nobs, k, _ = on_diag.shape
    band = np.zeros((2 * k, k * nobs))
    for a in range(k):  # column a of each block
        for b in range(a, k):  # diagonal blocks: row b ≥ a
            band[b - a, a::k] = on_diag[:, b, a]
        for b in range(k):  # the block below: row k + b
            band[k + b - a, a : k * (nobs - 1) : k] = below[:, b, a]
    return band


def _disturbance_rows(model: Any, n_params: int, irregular: int) -> dict[int, np.ndarray]:
    """For each state variance parameter, the state disturbances it scales."""
    rows = {}
    for j in range(n_params):
        if j != irregular:
            unit = np.zeros(n_params)
            unit[j] = 1.0
            model.update(unit)
            rows[j] = np.flatnonzero(np.diag(model.ssm["state_cov"]) == 1.0)
    return rows


def _start_values(
    z_pre: np.ndarray, n_params: int, irregular: int, prior: str, prior_level_sd: float
) -> np.ndarray:
    """The sampler's first variances: bsts' prior guesses, or a tenth of the spread."""
    if prior == "causalimpact":  # bsts' starting values: the prior guesses
        params = np.full(n_params, prior_level_sd**2)
        params[irregular] = 1.0
        return params
    spread = float(np.nanstd(z_pre)) or 1.0
    params = np.full(n_params, (0.1 * spread) ** 2)
    params[irregular] = max(float(np.nanvar(np.diff(z_pre))) / 2, 1e-6 * spread**2)
    return params


def _flat_sd_draw(shocks: np.ndarray, rng: np.random.Generator) -> float:
    """One draw of σ² given ``shocks`` ~ N(0, σ²) under a flat prior on σ."""
    m = shocks.size
    ss = float(np.vdot(shocks, shocks))
    return 1.0 / rng.gamma((m - 1) / 2, 1.0 / max(ss / 2, 1e-300))


def _sd_prior_draw(
    shocks: np.ndarray,
    rng: np.random.Generator,
    guess: float,
    sample_size: float,
    upper: float,
    tries: int = 100,
) -> float:
    """One draw of σ² given ``shocks`` ~ N(0, σ²) under bsts' ``SdPrior``.

    ``SdPrior(sigma.guess, sample.size, upper.limit)``: 1/σ² ~ Gamma(sample.size / 2,
    rate = sample.size · guess² / 2), truncated to σ ≤ upper. The full conditional is
    Gamma((sample.size + m) / 2, rate = (sample.size · guess² + Σ shock²) / 2), drawn
    until σ ≤ upper (then the limit itself, as a last resort).
    """
    shape = (sample_size + shocks.size) / 2
    rate = (sample_size * guess**2 + float(np.vdot(shocks, shocks))) / 2
    for _ in range(tries):
        var = 1.0 / rng.gamma(shape, 1.0 / max(rate, 1e-300))
        if var <= upper**2:
            return var
    return upper**2
