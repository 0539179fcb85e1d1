"""Reference p-values for the event study's wild cluster bootstrap, from pyfixest.

Run from the project root (pyfixest is not a dependency of the project):
    .venv/bin/python -m pip install pyfixest==0.60.0
    .venv/bin/python tests/data/reference/event_study/make_reference.py
Writes ``reference.csv`` beside this file: for two seeded simulated studies (few cases),
pyfixest's ``feols`` with the fixed effects absorbed natively and CRV1 errors, then its
``wildboottest`` (WCR11, Webb weights, 99,999 draws) of the mean pre-event coefficient
and of the mean post minus mean pre, on the same reparametrised design
``analysis.event_study`` tests (the contrast is one coefficient).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

from analysis.event_core import _contrast_design, _windows, leads_lags_design
from analysis.simulate import simulate_study

HERE = Path(__file__).resolve().parent
STUDIES = {
    "preceded_weak": dict(n_cases=7, patterns="preceded", effect=0.15, noise=0.4, seed=21),
    "neither": dict(n_cases=8, patterns="neither", seed=22),
}
WINDOW, BASELINE = 7, 14


def contrasts(names: list[str]) -> dict[str, dict[str, float]]:
    pre = [n for n in names if int(n.split("=")[1]) < 0]
    post = [n for n in names if int(n.split("=")[1]) >= 0]
    return {
        "pre_test": {n: 1 / len(pre) for n in pre},
        "post_test": {**{n: -1 / len(pre) for n in pre}, **{n: 1 / len(post) for n in post}},
    }


def main() -> None:
    import pyfixest as pf  # only here: the tests import the constants above without it

    warnings.simplefilter("ignore")
    rows = []
    for name, kw in STUDIES.items():
        study = simulate_study(**kw).study
        win = _windows(study, WINDOW, BASELINE, None, "zscore")
        X, y, fe, clusters = leads_lags_design(win, WINDOW, BASELINE)
        for test, weights in contrasts(list(X.columns)).items():
            Xc, col = _contrast_design(X, weights)
            data = Xc.rename(columns=lambda c: c.replace("tau=", "t").replace("-", "m"))
            terms = list(data.columns)
            data = data.assign(y=y.to_numpy(), fe=fe, g=clusters)
            fit = pf.feols(f"y ~ {' + '.join(terms)} | fe", data=data, vcov={"CRV1": "g"})
            boot = fit.wildboottest(
                param=col, reps=99_999, weights_type="webb", seed=7, k_adj=True, G_adj=True
            )
            rows.append(
                {
                    "study": name,
                    "test": test,
                    "estimate": float(fit.coef()[col]),
                    "std_error": float(fit.se()[col]),
                    "t_stat_boot": float(boot["t value"]),
                    "p_boot": float(boot["Pr(>|t|)"]),
                    "reps": 99_999,
                    "pyfixest": pf.__version__,
                }
            )
    out = pd.DataFrame(rows)
    out.to_csv(HERE / "reference.csv", index=False, float_format="%.10g")
    print(out.to_string())


if __name__ == "__main__":
    main()
