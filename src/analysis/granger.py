"""Granger tests of activity and legal events, pair by pair: exact F tests from shared Gram
matrices, shift (permutation-in-time) p-values, lag selection, and Benjamini-Hochberg
discoveries across pairs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.tsa.api import VAR

from ._numeric import quiet
from .align import case_panel
from .study import Study

__all__ = [
    "bh_adjust",
    "granger_discoveries",
    "granger_f",
    "granger_many",
    "granger_tests",
    "longest_observed_run",
    "select_lag",
    "shift_p_values",
]


def longest_observed_run(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """The longest stretch of consecutive rows where every column is observed."""
    ok = frame[list(columns)].notna().all(axis=1).to_numpy()
    if not ok.any():
        return frame.iloc[0:0]
    edges = np.diff(np.concatenate([[0], ok.astype(int), [0]]))
    starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    i = int(np.argmax(ends - starts))
    return frame.iloc[starts[i] : ends[i]]


def granger_f(effect: np.ndarray, cause: np.ndarray, lag: int) -> pd.DataFrame:
    """Granger F tests of ``cause`` → ``effect`` for many series at once.

    For each row s: regress effect[t] on a constant and effect[t-1..t-lag] (restricted)
    and additionally on cause[t-1..t-lag] (unrestricted), over t = lag … T-1;
    ``F = ((RSS_r − RSS_u) / lag) / (RSS_u / (T − lag − 2·lag − 1))``. This is the
    ``ssr_ftest`` of statsmodels' ``grangercausalitytests`` on ``[effect, cause]``.

    Parameters
    ----------
    effect, cause : numpy.ndarray
        Shape ``(S, T)``, no missing values.
    lag : int

    Returns
    -------
    pandas.DataFrame
        ``f_stat``, ``p_value``, ``df_num``, ``df_denom``, ``n_obs`` per row; NaN where
        the unrestricted design is rank-deficient (e.g. a cause series with no variation).
    """
    return granger_many(effect, cause, [lag])[lag]


def _lagged(a: np.ndarray, t0: int, t1: int, p: int) -> np.ndarray:
    """a[:, t-1], …, a[:, t-p] for t = t0 … t1-1, shape (S, t1 - t0, p)."""
    return np.stack([a[:, t0 - j - 1 : t1 - j - 1] for j in range(p)], axis=2)


def _rss_from_gram(
    gram: np.ndarray, cross: np.ndarray, yy: np.ndarray, rtol: float = 1e-13
) -> tuple[np.ndarray, np.ndarray]:
    """RSS of least squares from X'X, X'y and y'y, and a full-rank flag.

    Columns are scaled to unit length before solving; the RSS is evaluated as the
    quadratic form y'y − 2b'X'y + b'X'Xb, whose error is second order in that of b.
    """
    d = np.sqrt(np.einsum("skk->sk", gram))
    d = np.where(d > 0, d, 1.0)
    g = gram / d[:, :, None] / d[:, None, :]
    c = cross / d
    eig = np.linalg.eigvalsh(g)
    full = eig[:, 0] > rtol * np.maximum(eig[:, -1], 1e-300)
    safe = np.where(full[:, None, None], g, np.eye(g.shape[1]))
    b = np.linalg.solve(safe, c[:, :, None])[:, :, 0]
    rss = yy - 2 * np.einsum("sk,sk->s", b, c) + np.einsum("sk,skj,sj->s", b, g, b)
    return np.maximum(rss, 0.0), full


def granger_many(
    effect: np.ndarray, cause: np.ndarray, lags: Sequence[int]
) -> dict[int, pd.DataFrame]:
    """Granger F tests of ``cause`` → ``effect`` at several lags, sharing one Gram matrix.

    The cross-products of the design at the largest lag L are formed once; the design
    of a smaller lag p is a subset of its columns, over rows p … T-1, so its X'X is a
    sub-block plus the few rows p … L-1. Same statistics as :func:`granger_f` at each
    lag (statsmodels' ``ssr_ftest``), in a fraction of the time.
    """
    effect = np.atleast_2d(np.asarray(effect, dtype=float))
    cause = np.atleast_2d(np.asarray(cause, dtype=float))
    S, T = effect.shape
    L = max(lags)
    full = np.concatenate(
        [np.ones((S, T - L, 1)), _lagged(effect, L, T, L), _lagged(cause, L, T, L)], axis=2
    )
    target = effect[:, L:]
    gram = np.matmul(full.transpose(0, 2, 1), full)
    cross = np.einsum("snk,sn->sk", full, target)
    yy = np.einsum("sn,sn->s", target, target)
    out = {}
    for p in lags:
        cols_r = [0, *range(1, p + 1)]
        cols_u = [*cols_r, *range(1 + L, 1 + L + p)]
        g_u = gram[:, cols_u][:, :, cols_u]
        c_u = cross[:, cols_u]
        y_p = yy.copy()
        if p < L:  # rows t = p … L-1, where lags up to p exist
            extra = np.concatenate(
                [np.ones((S, L - p, 1)), _lagged(effect, p, L, p), _lagged(cause, p, L, p)], axis=2
            )
            tgt = effect[:, p:L]
            g_u = g_u + np.matmul(extra.transpose(0, 2, 1), extra)
            c_u = c_u + np.einsum("snk,sn->sk", extra, tgt)
            y_p = y_p + np.einsum("sn,sn->s", tgt, tgt)
        k_r = len(cols_r)
        rss_r, _ = _rss_from_gram(g_u[:, :k_r, :k_r], c_u[:, :k_r], y_p)
        rss_u, ok = _rss_from_gram(g_u, c_u, y_p)
        n = T - p
        df_denom = n - 2 * p - 1
        with np.errstate(invalid="ignore", divide="ignore"):
            f = ((rss_r - rss_u) / p) / (rss_u / df_denom)
        f = np.where(ok & (df_denom > 0), f, np.nan)
        out[p] = pd.DataFrame(
            {
                "f_stat": f,
                "p_value": stats.f.sf(f, p, df_denom),
                "df_num": p,
                "df_denom": df_denom,
                "n_obs": n,
            }
        )
    return out


def _rotated_f(
    fixed: np.ndarray, rotated: np.ndarray, shifts: np.ndarray, p: int, rotated_is_effect: bool
) -> np.ndarray:
    """Granger F statistics at lag ``p`` for ``rotated`` circularly shifted by each of
    ``shifts`` (as ``np.roll``), against ``fixed``: one value per shift.

    Every entry of the normal equations is a sum over days ``t = p … T-1`` of products of
    lagged series. With one series rotated by ``s``, such a sum is a circular
    cross-correlation evaluated at ``s`` (shifted by the lags), so all shifts come from
    one FFT per design column and per pair of rotated columns — O(p² · T log T) for every
    shift at once, instead of a design of ``T × (2p + 1)`` per shift. The F statistic and
    the full-rank rule are those of :func:`granger_many` (tested equal on rolled series).
    """
    T = len(fixed)
    window = np.zeros(T)
    window[p:] = 1.0
    eff, cau = ("R", "F") if rotated_is_effect else ("F", "R")
    columns = [("1", 0), *((eff, j) for j in range(1, p + 1)), *((cau, j) for j in range(1, p + 1))]
    columns.append((eff, 0))  # the target, as a last column
    n = len(columns)
    series = {"F": np.asarray(fixed, float), "R": np.asarray(rotated, float)}

    def plain(kind: str, lag: int) -> np.ndarray:  # x[t - lag] at every t (t >= lag used)
        return np.ones(T) if kind == "1" else np.roll(series[kind], lag)

    def corr(a: np.ndarray, fb: np.ndarray, bound: float) -> np.ndarray:
        """c[m] = sum_u a[u] b[(u + m) % T] from ``fb`` = rfft(b); a value within rounding
        of 0 (under 1e-11 of the Cauchy-Schwarz ``bound``) is 0, so an empty column
        stays exactly empty and the full-rank rule sees it as the direct sums would."""
        c = np.fft.irfft(np.conj(np.fft.rfft(a)) * fb, n=T)
        return np.where(np.abs(c) < 1e-11 * bound, 0.0, c)

    # Sum_u R[u-j] R[u-k] W[u+s] = corr(Q_d, W)[j + s] with Q_d[v] = R[v] R[v-d], d = k - j:
    # one FFT per distance d; Sum_u R[u] B_W[u+j+s] = corr(R, B_W)[j + s]: one per column.
    R = series["R"]
    f_window = np.fft.rfft(window)
    by_distance: dict[int, np.ndarray] = {}
    by_column: dict[tuple[str, int], np.ndarray] = {}
    M = np.empty((len(shifts), n, n))
    for i, (ka, ja) in enumerate(columns):
        for k in range(i, n):
            kb, jb = columns[k]
            if ka != "R" and kb != "R":  # fixed with fixed: the same for every shift
                value = np.full(len(shifts), float(np.dot(plain(ka, ja) * window, plain(kb, jb))))
            elif ka == "R" and kb == "R":
                (j0, j1) = (ja, jb) if ja <= jb else (jb, ja)
                d = j1 - j0
                if d not in by_distance:
                    q = R * np.roll(R, d)
                    by_distance[d] = corr(q, f_window, math.sqrt(float(q @ q) * (T - p)))
                value = by_distance[d][(j0 + shifts) % T]
            else:
                (jr, kf, jf) = (ja, kb, jb) if ka == "R" else (jb, ka, ja)
                if (kf, jf) not in by_column:
                    masked = plain(kf, jf) * window
                    bound = math.sqrt(float(R @ R) * float(masked @ masked))
                    by_column[(kf, jf)] = corr(R, np.fft.rfft(masked), bound)
                value = by_column[(kf, jf)][(jr + shifts) % T]
            M[:, i, k] = M[:, k, i] = value
    K = n - 1
    g, c, yy = M[:, :K, :K], M[:, :K, K], M[:, K, K]
    k_r = 1 + p
    rss_r, _ = _rss_from_gram(g[:, :k_r, :k_r], c[:, :k_r], yy)
    rss_u, ok = _rss_from_gram(g, c, yy)
    df_denom = (T - p) - 2 * p - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        f = ((rss_r - rss_u) / p) / (rss_u / df_denom)
    return np.where(ok & (df_denom > 0), f, np.nan)


def shift_p_values(
    effect: np.ndarray,
    cause: np.ndarray,
    lags: Sequence[int],
    *,
    shift_events: str,
    n_shifts: int = 199,
    min_gap: int = 30,
    seed: int = 0,
) -> dict[int, np.ndarray]:
    """Circular-shift randomisation p-values of Granger F tests, one series pair per row.

    The legal-event series (``shift_events`` says which argument it is: ``"effect"`` or
    ``"cause"``) is rotated by ``n_shifts`` random offsets at least ``min_gap`` days from
    0 and from the series length; each rotation keeps both series' own autocorrelation,
    trend and event count but breaks their alignment. p = (1 + #{F_shift ≥ F}) /
    (1 + shifts). Valid where the F distribution is not: a daily indicator with a handful
    of events, activity in levels. The rotated statistics come from :func:`_rotated_f`
    (every shift at once, by FFT).

    Returns
    -------
    dict
        lag → p-values (NaN where the F statistic is undefined).
    """
    effect, cause = np.atleast_2d(effect).astype(float), np.atleast_2d(cause).astype(float)
    S, T = effect.shape
    rng = np.random.default_rng(seed)
    observed = granger_many(effect, cause, lags)
    out = {lag: np.full(S, np.nan) for lag in lags}
    space = np.arange(min_gap, T - min_gap + 1)
    if len(space) == 0:
        return out
    rotate_effect = shift_events == "effect"
    for i in range(S):
        shifts = rng.choice(space, size=min(n_shifts, len(space)), replace=False)
        fixed, rotated = (cause[i], effect[i]) if rotate_effect else (effect[i], cause[i])
        for lag in lags:
            f0 = observed[lag]["f_stat"].iloc[i]
            if not np.isfinite(f0):
                continue
            null = _rotated_f(fixed, rotated, shifts, lag, rotate_effect)
            ge = int(np.sum(np.nan_to_num(null, nan=-np.inf) >= f0))
            out[lag][i] = (1 + ge) / (1 + len(shifts))
    return out


def select_lag(activity: np.ndarray, events: np.ndarray, max_lag: int, ic: str = "bic") -> int:
    """Lag order of a two-series VAR chosen by an information criterion (statsmodels).

    ``ic`` is ``"aic"``, ``"bic"``, ``"hqic"`` or ``"fpe"``; at least 1. A constant series
    (no event in the run) gives 1.
    """
    data = np.column_stack([activity, events]).astype(float)
    if (data.std(axis=0) == 0).any():
        return 1

    with quiet():
        chosen = VAR(data).select_order(max_lag).selected_orders[ic]
    return max(1, int(chosen))


def granger_tests(
    study: Study,
    *,
    lags: Sequence[int] | str = (1, 7),
    max_lag: int = 14,
    transform: str = "log1p",
    alpha: float = 0.05,
    min_days: int = 60,
    n_shifts: int = 999,
    seed: int = 0,
) -> pd.DataFrame:
    """Granger tests in both directions for every (case, linked series).

    The two series of a pair are the activity (``log1p`` by default) and the case's
    legal-event intensity (day-precision legal events per day), over the longest run
    of days on which the activity was observed.

    The F test's p-value assumes stationary, well-behaved series; a daily indicator
    with 1–4 events and activity in levels are neither. The headline p-value is
    therefore ``p_shift``: a randomisation test that rotates the legal events
    (:func:`shift_p_values`, ``n_shifts`` rotations, ``seed``). One hypothesis is one
    pair and direction: its lags are combined by Bonferroni (``p_pair``), then
    Benjamini–Hochberg runs across pairs and directions (``p_adjusted``,
    ``significant``). With 999 rotations the smallest ``p_shift`` is 0.001, enough for
    about 50 pairs at a 5 % false discovery rate; a short series allows fewer distinct
    rotations and so cannot reach significance at all. On the bundled data the 12 F-test
    "discoveries" all disappear.

    Parameters
    ----------
    study : Study
    lags : sequence of int, or {"aic", "bic", "hqic"}
        Lag orders to test (each is one test per pair and direction), or an information
        criterion that chooses one lag per pair (:func:`select_lag`, up to ``max_lag``).
    max_lag : int
        Largest lag the criterion may choose.
    transform : {"log1p", "none"}
        Applied to the activity.
    alpha : float
        False discovery rate for the Benjamini–Hochberg ``significant`` flag.
    min_days : int
        Pairs with a shorter observed run are listed with ``note`` and no statistic.
    n_shifts, seed : int
        Rotations of the event series for ``p_shift`` (0: none, F p-values only).

    Returns
    -------
    pandas.DataFrame
        ``case_id``, ``campaign_id``, ``cause``, ``effect``, ``lag``, ``f_stat``,
        ``p_value`` (F), ``p_shift``, ``df_num``, ``df_denom``, ``n_obs``, ``n_events``,
        ``p_pair`` (the pair and direction's lags combined), ``p_adjusted`` (BH across
        pairs and directions), ``significant``, ``note``.
    """
    panel = case_panel(study)
    rows: list[dict[str, Any]] = []
    ic = lags if isinstance(lags, str) else None
    fixed = [max_lag] if isinstance(lags, str) else list(lags)
    groups: dict[tuple[Any, ...], list[_Member]] = {}
    for (case_id, campaign_id), g in panel.groupby(["case_id", "campaign_id"], sort=True):
        run = longest_observed_run(g, ["value"])
        act = run["value"].to_numpy(dtype=float)
        act = np.log1p(act) if transform == "log1p" else act
        ev = run["n_events"].to_numpy(dtype=float)
        member = (str(case_id), str(campaign_id), act, ev, int(ev.sum()))
        if len(run) < max(min_days, 3 * max(fixed) + 2):
            rows += _too_short(member, fixed, f"observed run of {len(run)} days is too short")
            continue
        chosen = (select_lag(act, ev, max_lag, ic),) if ic else tuple(lags)
        groups.setdefault((len(run), chosen), []).append(member)
    for (_, group_lags), members in sorted(groups.items()):
        rows += _group_rows(members, list(group_lags), n_shifts, seed)
    out = pd.DataFrame(rows)
    for col in ("f_stat", "p_value", "p_shift", "df_num", "df_denom", "n_obs"):
        if col not in out:
            out[col] = np.nan
    out["note"] = out["note"].fillna("")
    # one hypothesis per pair and direction: its lags combined by Bonferroni, then BH
    key = ["case_id", "campaign_id", "cause"]
    p_col = "p_shift" if n_shifts else "p_value"
    pair = out.groupby(key)[p_col].agg(
        lambda p: min(1.0, len(p) * p.min()) if p.notna().any() else np.nan
    )
    pairs = pair.reset_index(name="p_pair")
    pairs["p_adjusted"] = bh_adjust(pairs["p_pair"])
    out = out.merge(pairs, on=key, how="left")
    out["significant"] = out["p_adjusted"] < alpha
    cols = [
        "case_id",
        "campaign_id",
        "cause",
        "effect",
        "lag",
        "f_stat",
        "p_value",
        "p_shift",
        "df_num",
        "df_denom",
        "n_obs",
        "n_events",
        "p_pair",
        "p_adjusted",
        "significant",
        "note",
    ]
    return out[cols].sort_values(["case_id", "campaign_id", "cause", "lag"]).reset_index(drop=True)


#: One (case, series) pair: its ids, activity, daily event counts and number of events.
_Member = tuple[str, str, np.ndarray, np.ndarray, int]

_DIRECTIONS = (("activity", "legal_events"), ("legal_events", "activity"))


def _too_short(member: _Member, lags: list[int], note: str) -> list[dict[str, Any]]:
    """The rows of a pair that is listed without a test, saying why."""
    case_id, campaign_id, _, _, n_events = member
    return [
        {
            "case_id": case_id,
            "campaign_id": campaign_id,
            "cause": cause,
            "effect": effect,
            "lag": lag,
            "n_events": n_events,
            "note": note,
        }
        for lag in lags
        for cause, effect in _DIRECTIONS
    ]


def _group_rows(
    members: list[_Member], lags: list[int], n_shifts: int, seed: int
) -> list[dict[str, Any]]:
    """Both directions' tests of pairs of one length and lags, batched."""
    rows = []
    act = np.vstack([m[2] for m in members])
    ev = np.vstack([m[3] for m in members])
    for (cause, effect), (y, x, events_are) in zip(
        _DIRECTIONS, ((ev, act, "effect"), (act, ev, "cause")), strict=True
    ):
        shifted = (
            shift_p_values(y, x, lags, shift_events=events_are, n_shifts=n_shifts, seed=seed)
            if n_shifts
            else {lag: np.full(len(members), np.nan) for lag in lags}
        )
        for lag, res in granger_many(y, x, lags).items():
            for m, rec, p_shift in zip(members, res.to_dict("records"), shifted[lag], strict=True):
                note = (
                    ""
                    if np.isfinite(rec["f_stat"])
                    else "no variation in a series (no legal event in the run?)"
                )
                rows.append(
                    {
                        "case_id": m[0],
                        "campaign_id": m[1],
                        "cause": cause,
                        "effect": effect,
                        "lag": lag,
                        **{str(k): v for k, v in rec.items()},
                        "p_shift": p_shift,
                        "n_events": m[4],
                        "note": note,
                    }
                )
    return rows


def granger_discoveries(table: pd.DataFrame) -> pd.DataFrame:
    """Discoveries per pair and direction: a pair counts once, whatever its lags.

    Returns
    -------
    pandas.DataFrame
        ``cause``, ``effect``, ``pairs`` (tested), ``discoveries`` (pairs with a
        significant test at any lag).
    """
    tested = table[table["note"] == ""]
    per_pair = tested.groupby(["cause", "effect", "case_id", "campaign_id"])["significant"].any()
    return (
        per_pair.groupby(["cause", "effect"])
        .agg(pairs="size", discoveries="sum")
        .reset_index()
        .astype({"discoveries": int})
    )


def bh_adjust(p_values: pd.Series | np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (statsmodels ``multipletests``), NaN kept."""
    p = np.asarray(p_values, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="fdr_bh")[1]
    return out
