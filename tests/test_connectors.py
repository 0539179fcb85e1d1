"""Connectors, offline: replies recorded in each API's documented format (``responses``)."""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
import responses

from analysis import connectors as c
from analysis.cli import main
from analysis.datasets import load_study
from analysis.errors import DataError

MINIMAL = Path(__file__).parent / "data" / "minimal_study"
WIKI_API = "https://en.wikipedia.org/w/api.php"
PV = re.compile(r"https://wikimedia\.org/api/rest_v1/metrics/pageviews/per-article/.*")


def _http(tmp_path=None, **kw) -> c.Http:
    return c.Http(cache_dir=tmp_path / "cache" if tmp_path else None, sleep=lambda s: None, **kw)


def _pageviews(article: str, days: dict[str, int]) -> dict:
    return {
        "items": [
            {
                "project": "en.wikipedia",
                "article": article,
                "granularity": "daily",
                "timestamp": f"{d.replace('-', '')}00",
                "access": "all-access",
                "agent": "user",
                "views": v,
            }
            for d, v in days.items()
        ]
    }


def _redirects(title: str, redirects: list[str]) -> dict:
    return {
        "batchcomplete": True,
        "query": {
            "pages": [
                {
                    "pageid": 1,
                    "ns": 0,
                    "title": title,
                    "redirects": [
                        {"pageid": 2 + i, "ns": 0, "title": r} for i, r in enumerate(redirects)
                    ],
                }
            ]
        },
    }


@responses.activate
def test_wikipedia_sums_views_under_earlier_titles():
    responses.get(WIKI_API, json=_redirects("Loujain al-Hathloul", ["Loujain Alhathloul"]))
    responses.get(
        re.compile(PV.pattern + "Loujain_al-Hathloul/.*"),
        json=_pageviews("Loujain_al-Hathloul", {"2020-12-28": 900, "2020-12-29": 300}),
    )
    responses.get(
        re.compile(PV.pattern + "Loujain_Alhathloul/.*"),
        json=_pageviews("Loujain_Alhathloul", {"2020-12-28": 100}),
    )
    s = c.fetch_wikipedia(
        _http(), "free_loujain", ["Loujain al-Hathloul"], "2020-12-27", "2020-12-29"
    )
    assert s.activity["value"].tolist() == [
        0.0,
        1000.0,
        300.0,
    ]  # a day with no views is 0, not missing
    assert s.campaign["platform"] == "wikipedia" and "Loujain Alhathloul" in s.campaign["query"]
    sent = [call.request for call in responses.calls]
    assert all(r.headers["User-Agent"].startswith("pressure-precedent/") for r in sent)


@responses.activate
def test_wikipedia_days_before_pageviews_existed_are_unobserved():
    responses.get(WIKI_API, json=_redirects("Raif Badawi", []))
    responses.get(PV, json=_pageviews("Raif_Badawi", {"2015-07-01": 50}))
    s = c.fetch_wikipedia(_http(), "free_raif", ["Raif Badawi"], "2015-06-29", "2015-07-02")
    assert np.isnan(s.activity["value"].iloc[:2]).all() and s.activity["value"].iloc[
        2:
    ].tolist() == [50.0, 0.0]


@responses.activate
def test_an_unknown_article_is_a_clear_error_and_a_404_title_counts_zero():
    responses.get(
        WIKI_API, json={"query": {"pages": [{"ns": 0, "title": "No such page", "missing": True}]}}
    )
    with pytest.raises(c.FetchError, match="has no article 'No such page'"):
        c.fetch_wikipedia(_http(), "x", ["No such page"], "2021-01-01", "2021-01-02")
    responses.reset()
    responses.get(WIKI_API, json=_redirects("Nazanin Zaghari-Ratcliffe", ["Old title"]))
    responses.get(re.compile(PV.pattern + "Nazanin.*"), json=_pageviews("N", {"2021-01-01": 5}))
    responses.get(
        re.compile(PV.pattern + "Old_title/.*"),
        status=404,
        json={
            "type": "https://mediawiki.org/wiki/HyperSwitch/errors/not_found",
            "title": "Not found.",
        },
    )
    s = c.fetch_wikipedia(_http(), "x", ["Nazanin Zaghari-Ratcliffe"], "2021-01-01", "2021-01-02")
    assert s.activity["value"].tolist() == [5.0, 0.0]


@responses.activate
def test_rate_limiting_is_retried_with_backoff_then_given_up():
    waits = []
    http = c.Http(sleep=waits.append, backoff=0.5)
    responses.get(PV, status=429, headers={"Retry-After": "3"})
    responses.get(PV, json=_pageviews("A", {"2021-01-01": 7}))
    assert (
        http.get_json("https://wikimedia.org/api/rest_v1/metrics/pageviews/per-article/x")[1][
            "items"
        ][0]["views"]
        == 7
    )
    assert waits == [3.0]
    responses.reset()
    responses.get(PV, status=503)
    waits.clear()
    with pytest.raises(c.FetchError, match="answered 503 after 4 retries"):
        http.get_json("https://wikimedia.org/api/rest_v1/metrics/pageviews/per-article/x")
    assert waits == [0.5, 1.0, 2.0, 4.0]


@responses.activate
def test_malformed_replies_and_offline_are_explained():
    responses.get(WIKI_API, json=_redirects("A", []))
    responses.get(PV, json={"detail": "unexpected"})
    with pytest.raises(c.FetchError, match="malformed reply"):
        c.fetch_wikipedia(_http(), "a", ["A"], "2021-01-01", "2021-01-02")
    responses.reset()
    responses.get(PV, body="<html>maintenance</html>")
    with pytest.raises(c.FetchError, match="not JSON"):
        _http().get_json("https://wikimedia.org/api/rest_v1/metrics/pageviews/per-article/x")
    responses.reset()
    responses.get(PV, body=requests.ConnectionError("Name or service not known"))
    with pytest.raises(c.FetchError, match=r"cannot reach wikimedia\.org \(offline\?\)"):
        _http().get_json("https://wikimedia.org/api/rest_v1/metrics/pageviews/per-article/x")


@responses.activate
def test_replies_are_cached_so_a_rerun_does_not_ask_again(tmp_path):
    responses.get(WIKI_API, json=_redirects("A", []))
    responses.get(PV, json=_pageviews("A", {"2021-01-01": 3}))
    first = c.fetch_wikipedia(_http(tmp_path), "a", ["A"], "2021-01-01", "2021-01-01")
    n = len(responses.calls)
    again = c.fetch_wikipedia(_http(tmp_path), "a", ["A"], "2021-01-01", "2021-01-01")
    assert len(responses.calls) == n and again.activity.equals(first.activity)
    c.fetch_wikipedia(_http(tmp_path, refresh=True), "a", ["A"], "2021-01-01", "2021-01-01")
    assert len(responses.calls) == 2 * n


@responses.activate
def test_gdelt_counts_share_and_empty_results():
    body = {
        "query_details": {"title": "x"},
        "timeline": [
            {
                "series": "Article Count",
                "data": [
                    {"date": "20200525T000000Z", "value": 40, "norm": 40000},
                    {"date": "20200526T000000Z", "value": 400, "norm": 50000},
                ],
            }
        ],
    }
    responses.get(c.GDELT_DOC, json=body)
    counts = c.fetch_gdelt(_http(), "floyd_news", '"George Floyd"', "2020-05-25", "2020-05-27")
    # a day the reply does not list is unknown, not zero
    assert counts.activity["value"].iloc[:2].tolist() == [40.0, 400.0]
    assert np.isnan(counts.activity["value"].iloc[2])
    share = c.fetch_gdelt(
        _http(), "floyd_news", '"George Floyd"', "2020-05-25", "2020-05-27", metric="share"
    )
    assert share.activity["value"].iloc[:2].tolist() == pytest.approx([0.1, 0.8]) and np.isnan(
        share.activity["value"].iloc[2]
    )
    assert responses.calls[0].request.params["mode"] == "timelinevolraw"
    responses.reset()
    responses.get(c.GDELT_DOC, json={"timeline": []})  # nothing matched, or not covered
    with pytest.raises(c.FetchError, match="no timeline"):
        c.fetch_gdelt(_http(), "q", "nothing", "2020-05-25", "2020-05-26")
    for bad in ("inf", "NaN", -3, None, "many"):
        responses.reset()
        point = {"date": "20200525T000000Z", "value": bad, "norm": 10}
        responses.get(c.GDELT_DOC, json={"timeline": [{"data": [point]}]})
        with pytest.raises(c.FetchError, match="malformed reply"):
            c.fetch_gdelt(_http(), "q", "x", "2020-05-25", "2020-05-26")
    responses.reset()
    responses.get(c.GDELT_DOC, json={"error": "bad query"})
    with pytest.raises(c.FetchError, match="malformed reply"):
        c.fetch_gdelt(_http(), "q", "(", "2020-05-25", "2020-05-26")


@responses.activate
def test_mediacloud_needs_a_key_and_reads_counts(monkeypatch):
    monkeypatch.delenv("MEDIACLOUD_API_KEY", raising=False)
    with pytest.raises(c.FetchError, match="set MEDIACLOUD_API_KEY"):
        c.fetch_mediacloud(_http(), "m", "x", "2020-01-01", "2020-01-02")
    monkeypatch.setenv("MEDIACLOUD_API_KEY", "secret-key")
    responses.get(
        c.MEDIACLOUD_API + "search/count-over-time",
        json={
            "count_over_time": {
                "counts": [
                    {
                        "date": "2020-01-01 00:00:00",
                        "count": 12,
                        "total_count": 4000,
                        "ratio": 0.003,
                    }
                ]
            }
        },
    )
    stories = c.fetch_mediacloud(_http(), "m", "Navalny", "2020-01-01", "2020-01-02")
    assert stories.activity["value"].iloc[0] == 12 and np.isnan(stories.activity["value"].iloc[1])
    assert responses.calls[0].request.headers["Authorization"] == "Token secret-key"
    ratio = c.fetch_mediacloud(_http(), "m", "Navalny", "2020-01-01", "2020-01-01", metric="ratio")
    assert ratio.activity["value"].tolist() == [0.003]
    responses.reset()
    responses.get(
        c.MEDIACLOUD_API + "search/count-over-time", status=403, json={"detail": "bad token"}
    )
    with pytest.raises(c.FetchError, match="access refused"):
        c.fetch_mediacloud(_http(), "m", "Navalny", "2020-01-01", "2020-01-02")


DAILY = "Category: All categories\n\nDay,#FreeBritney: (Worldwide)\n2021-06-22,<1\n2021-06-23,100\n2021-06-24,37\n"
WEEKLY = "Category: All categories\n\nWeek,FreeBritney: (United States),Britney Spears: (United States)\n2021-06-20,5,40\n2021-06-27,3,30\n"


def test_google_trends_exports(tmp_path):
    (tmp_path / "daily.csv").write_text(DAILY)
    s = c.import_google_trends("free_britney", tmp_path / "daily.csv")
    assert s.activity["value"].tolist() == [0.5, 100.0, 37.0] and "daily" in s.campaign["unit"]
    (tmp_path / "weekly.csv").write_text(WEEKLY)
    with pytest.raises(DataError, match="several terms"):
        c.import_google_trends("x", tmp_path / "weekly.csv")
    w = c.import_google_trends("x", tmp_path / "weekly.csv", "FreeBritney")
    assert w.activity["date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2021-06-20",
        "2021-06-27",
    ]  # the other days stay unobserved
    assert "weekly" in w.campaign["unit"]
    (tmp_path / "bad.csv").write_text("just,a,file\n1,2,3\n")
    with pytest.raises(DataError, match="not a Google Trends export"):
        c.import_google_trends("x", tmp_path / "bad.csv")


def test_write_series_appends_and_a_rerun_updates(tmp_path):
    study = tmp_path / "study"
    shutil.copytree(MINIMAL, study)
    (tmp_path / "t.csv").write_text(DAILY)
    series = c.import_google_trends("free_britney", tmp_path / "t.csv")
    c.write_series(study, "free_britney", series)
    c.write_series(study, "free_britney", series)  # again: no duplicate days
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = load_study(study)
    act = loaded.activity[loaded.activity["campaign_id"] == "free_britney"]
    assert len(act) == 3 and "fetched_at" in loaded.campaigns
    assert len(loaded.activity[loaded.activity["campaign_id"] == "free_ana"]) == 103  # untouched
    with pytest.raises(Exception, match="slug"):
        c.write_series(study, "../evil", series)


@responses.activate
def test_cli_fetch_wikipedia_into_a_study(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(c, "default_http", lambda refresh=False: _http(tmp_path))
    study = tmp_path / "study"
    shutil.copytree(MINIMAL, study)
    responses.get(WIKI_API, json=_redirects("Ana", []))
    responses.get(PV, json=_pageviews("Ana", {"2024-01-02": 9}))
    code = main(
        [
            "fetch",
            "wikipedia",
            "--campaign",
            "ana_wiki",
            "--query",
            "Ana",
            "--start",
            "2024-01-01",
            "--end",
            "2024-01-03",
            "--data",
            str(study),
        ]
    )
    assert code == 0 and "ana_wiki: 3 observed days" in capsys.readouterr().out
    written = pd.read_csv(study / "campaign_activity.csv")
    assert written[written["campaign_id"] == "ana_wiki"]["value"].tolist() == [0.0, 9.0, 0.0]
    responses.reset()
    responses.get(WIKI_API, body=requests.ConnectionError("offline"))
    assert (
        main(
            [
                "fetch",
                "wikipedia",
                "--campaign",
                "x",
                "--query",
                "Y",
                "--start",
                "2024-01-01",
                "--end",
                "2024-01-02",
                "--data",
                str(study),
                "--refresh",
            ]
        )
        == 1
    )
    assert "(offline?)" in capsys.readouterr().err


def test_the_fetch_command_is_built_from_the_connector_registry(capsys):
    """One class per source: the CLI's choices, metrics and help come from CONNECTORS."""
    from analysis.sources import SOURCES

    assert (
        list(c.CONNECTORS) == list(SOURCES) == ["wikipedia", "gdelt", "mediacloud", "google-trends"]
    )
    assert all(
        x.summary == SOURCES[n].summary and x.metrics == SOURCES[n].metrics
        for n, x in c.CONNECTORS.items()
    )
    assert all(isinstance(x, c.Connector) and x.summary for x in c.CONNECTORS.values())
    with pytest.raises(SystemExit):
        main(["fetch", "--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in c.CONNECTORS)
    assert "gdelt: articles|share" in out and "mediacloud: stories|ratio" in out
    with pytest.raises(DataError, match="--query"):
        c.CONNECTORS["gdelt"].fetch(_http(), c.Request("x", start="2020-01-01", end="2020-01-02"))
    with pytest.raises(DataError, match="'articles' or 'share'"):
        c.CONNECTORS["gdelt"].metric(c.Request("x", metric="likes"))


def test_fetch_sets_the_stance_and_a_rerun_keeps_it(tmp_path):
    study = tmp_path / "study"
    shutil.copytree(MINIMAL, study)
    (tmp_path / "t.csv").write_text(DAILY)
    base = ["fetch", "google-trends", "--campaign", "britney_search", "--data", str(study)]
    assert main([*base, "--file", str(tmp_path / "t.csv"), "--stance", "neutral"]) == 0
    stance = pd.read_csv(study / "campaigns.csv").set_index("campaign_id")["stance"]
    assert stance["britney_search"] == "neutral"
    assert main([*base, "--file", str(tmp_path / "t.csv")]) == 0  # an update keeps it
    stance = pd.read_csv(study / "campaigns.csv").set_index("campaign_id")["stance"]
    assert stance["britney_search"] == "neutral"


def test_a_trends_export_with_a_quoted_header_is_read(tmp_path):
    (tmp_path / "q.csv").write_text(
        'Category: All categories\n\n"Day","racism: (Worldwide)"\n2024-01-01,10\n2024-01-02,<1\n'
    )
    s = c.import_google_trends("x", tmp_path / "q.csv")
    assert s.activity["value"].tolist() == [10.0, 0.5]
