"""Each case's own Wikipedia series: ``fetch wikipedia --cases``, offline on recorded replies."""

from __future__ import annotations

import io
import re
import warnings

import pandas as pd
import pytest
import responses

from analysis import case_pages as cp
from analysis import config
from analysis import connectors as c
from analysis.cli import main
from analysis.datasets import load_study, parse_table, read_raw
from analysis.errors import DataError, OutputError

WIKI_API = re.compile(r"https://(en|de)\.wikipedia\.org/w/api\.php.*")
PV = re.compile(r"https://wikimedia\.org/api/rest_v1/metrics/pageviews/per-article/(.*)")
TODAY = pd.Timestamp("2026-11-25")


def _http(tmp_path):
    return c.Http(cache_dir=tmp_path / "cache", sleep=lambda s: None)


def _title_reply(request):
    """The MediaWiki reply for ``titles=...``: the same title, no redirects (JSON)."""
    from urllib.parse import parse_qs, urlsplit

    title = parse_qs(urlsplit(request.url).query)["titles"][0]
    if title == "No such article":
        page = {"ns": 0, "title": title, "missing": True}
    else:
        page = {"pageid": 1, "ns": 0, "title": title}
    return 200, {}, pd.Series({"query": {"pages": [page]}}).to_json()


def _views_reply(views_of):
    """Pageviews replies: ``views_of(article, day)`` views on every day asked for."""

    def reply(request):
        parts = request.url.split("/")
        article, lo, hi = parts[-5], parts[-2][:8], parts[-1][:8]
        days = pd.date_range(lo, hi, freq="D")
        items = [
            {
                "project": "en.wikipedia",
                "article": article,
                "granularity": "daily",
                "timestamp": f"{d:%Y%m%d}00",
                "access": "all-access",
                "agent": "user",
                "views": int(views_of(article, d)),
            }
            for d in days
        ]
        return 200, {}, pd.Series({"items": items}).to_json()

    return reply


def _record(views_of=lambda article, day: 100):
    responses.add_callback(responses.GET, WIKI_API, callback=_title_reply)
    responses.add_callback(responses.GET, PV, callback=_views_reply(views_of))


def _curated(table):
    path = config.CURATED_DIR / f"{table}.csv"
    return parse_table(read_raw(path), table, str(path))


# --------------------------------------------------------------------------- planning


def test_an_article_is_a_title_or_an_address():
    assert cp.article_of("Murder of George Floyd") == ("en", "Murder of George Floyd")
    assert cp.article_of("Raif Badawi", lang="de") == ("de", "Raif Badawi")
    assert cp.article_of("https://de.wikipedia.org/wiki/Wissenschaftszeitvertragsgesetz") == (
        "de",
        "Wissenschaftszeitvertragsgesetz",
    )
    assert cp.article_of("https://fa.wikipedia.org/wiki/%D9%85%D9%87%D8%B3%D8%A7_x") == (
        "fa",
        "مهسا x",
    )


def test_series_ids_are_slugs_and_distinct_for_long_case_ids():
    from analysis.schema import SLUG_RE

    assert cp.case_series_id("george_floyd") == "george_floyd_wikipedia"
    a, b = cp.case_series_id("a" * 60 + "_one"), cp.case_series_id("a" * 60 + "_two")
    assert a != b and SLUG_RE.match(a) and SLUG_RE.match(b) and len(a) == 64


def test_the_bundled_cases_name_their_articles_and_windows_fit_page_views():
    cases, events = _curated("cases"), _curated("legal_events")
    pages, skipped = cp.plan_case_pages(cases, events, today=TODAY)
    by_case = {p.case_id: p for p in pages}
    assert len(pages) + len(skipped) == len(cases) == 31
    assert "us_police_reform: no wikipedia_article" in skipped
    assert by_case["george_floyd"].title == "Murder of George Floyd"
    assert by_case["ichbinhanna"].lang == "de"
    floyd = by_case["george_floyd"]
    first = min(
        events.loc[events["case_id"] == "george_floyd", "date"].min(), pd.Timestamp("2020-05-25")
    )
    assert floyd.start == f"{first - pd.Timedelta(days=365):%Y-%m-%d}"
    for page in pages:  # inside the days page views exist, and before today
        assert "2015-07-01" <= page.start <= page.end < "2026-11-25"
    # a case whose dates all lie a year before page views began is skipped, saying why
    early = [s for s in skipped if "page views exist from 2015-07-01" in s]
    assert all(s.split(":")[0] in set(cases["case_id"]) for s in early)


def test_asking_for_an_unknown_case_or_one_without_an_article_is_refused_before_work():
    cases = _curated("cases")
    with pytest.raises(DataError) as err:
        cp.plan_case_pages(cases, None, ["georg_floyd", "us_police_reform"], today=TODAY)
    text = "\n".join(err.value.lines())
    assert "'georg_floyd'" in text and "did you mean 'george_floyd'" in text
    assert "us_police_reform" in text and "wikipedia_article is filled in" in text


def test_the_contract_checks_the_article_and_the_series_case_links(minimal_dir):
    cases = pd.read_csv(minimal_dir / "cases.csv")
    cases["wikipedia_article"] = ["Ana | the activist", ""]
    cases.to_csv(minimal_dir / "cases.csv", index=False)
    with pytest.raises(DataError) as err:
        load_study(minimal_dir, warn=False)
    assert "cases.csv:2:wikipedia_article: 'Ana | the activist'" in "\n".join(err.value.lines())
    cases["wikipedia_article"] = ["https://en.wikipedia.org/wiki/Ana", ""]
    cases.to_csv(minimal_dir / "cases.csv", index=False)
    campaigns = pd.read_csv(minimal_dir / "campaigns.csv")
    campaigns["case_ids"] = ["free_ana;free_bob"]
    campaigns.to_csv(minimal_dir / "campaigns.csv", index=False)
    with pytest.raises(DataError) as err:
        load_study(minimal_dir, warn=False)
    assert (
        "campaigns.csv:2:case_ids: 'free_bob' — expected case ids listed in cases.csv"
        in "\n".join(err.value.lines())
    )


def test_a_series_that_lists_a_case_links_to_it(minimal_dir):
    campaigns = pd.read_csv(minimal_dir / "campaigns.csv")
    campaigns["case_ids"] = ["new_law"]  # free_ana lists it; it lists new_law
    campaigns.to_csv(minimal_dir / "campaigns.csv", index=False)
    study = load_study(minimal_dir, warn=False)
    links = study.case_campaigns()
    assert links.values.tolist() == [["free_ana", "free_ana"], ["new_law", "free_ana"]]
    assert len(study.subset(["new_law"]).campaigns) == 1  # the subset keeps the series


# --------------------------------------------------------------------------- fetching


@responses.activate
def test_fetch_cases_into_a_users_own_study(minimal_dir, tmp_path, monkeypatch, capsys):
    """Each case naming an article gets its own series, linked through ``case_ids``."""
    monkeypatch.setattr(c, "default_http", lambda refresh=False: _http(tmp_path))
    cases = pd.read_csv(minimal_dir / "cases.csv")
    cases["wikipedia_article"] = ["Ana (activist)", ""]
    cases.to_csv(minimal_dir / "cases.csv", index=False)
    _record(lambda article, day: 50 + 10 * (day >= pd.Timestamp("2024-01-10")))
    code = main(["fetch", "wikipedia", "--cases", "--data", str(minimal_dir)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "free_ana: en.wikipedia 'Ana (activist)' -> free_ana_wikipedia" in out
    assert "skipped new_law: no wikipedia_article" in out
    study = load_study(minimal_dir, warn=False)
    row = study.campaigns.set_index("campaign_id").loc["free_ana_wikipedia"]
    assert row["case_ids"] == "free_ana" and row["platform"] == "wikipedia"
    assert row["stance"] == "supporting" and "Ana (activist)" in row["label"]
    days = study.activity[study.activity["campaign_id"] == "free_ana_wikipedia"]
    # the window: a year before the arrest (2024-01-10) to a year after the last event
    last = study.legal_events.loc[study.legal_events["case_id"] == "free_ana", "date"].max()
    assert days["date"].min() == pd.Timestamp("2023-01-10")
    assert days["date"].max() == min(
        last + pd.Timedelta(days=365), pd.Timestamp.now().normalize() - pd.Timedelta(days=1)
    )
    assert days["value"].notna().all() and set(days["value"]) == {50.0, 60.0}
    assert ["free_ana", "free_ana_wikipedia"] in study.case_campaigns().values.tolist()
    # a rerun updates the same rows instead of adding a second series
    assert main(["fetch", "wikipedia", "--cases", "free_ana", "--data", str(minimal_dir)]) == 0
    again = load_study(minimal_dir, warn=False)
    assert len(again.activity) == len(study.activity)
    assert list(again.campaigns["campaign_id"]).count("free_ana_wikipedia") == 1


@responses.activate
def test_one_missing_article_fails_alone(minimal_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(c, "default_http", lambda refresh=False: _http(tmp_path))
    cases = pd.read_csv(minimal_dir / "cases.csv")
    cases["wikipedia_article"] = ["Ana (activist)", "No such article"]
    cases.loc[1, "start_date"] = "2024-03-01"
    cases.to_csv(minimal_dir / "cases.csv", index=False)
    _record()
    code = main(["fetch", "wikipedia", "--cases", "--data", str(minimal_dir)])
    captured = capsys.readouterr()
    assert code == 1
    assert "new_law: en.wikipedia has no article 'No such article'" in captured.err
    assert "1 series written, 1 failed, 0 not asked, 0 skipped" in captured.out
    assert "free_ana_wikipedia" in set(load_study(minimal_dir, warn=False).campaigns["campaign_id"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["fetch", "gdelt", "--cases"], "--cases: 'gdelt' — expected the wikipedia source"),
        (
            ["fetch", "wikipedia", "--cases", "--campaign", "x"],
            "--campaign: 'x' — expected no value",
        ),
        (["fetch", "wikipedia", "--cases", "free_anna"], "did you mean 'free_ana'"),
        (["fetch", "wikipedia"], "--campaign: '' — expected a campaign_id to write (or --cases)"),
    ],
)
def test_wrong_case_fetches_exit_2_before_any_request(minimal_dir, capsys, argv, message):
    before = sorted(p.name for p in minimal_dir.iterdir())
    assert main([*argv, "--data", str(minimal_dir)]) == 2
    assert message in capsys.readouterr().err
    assert sorted(p.name for p in minimal_dir.iterdir()) == before


@pytest.mark.slow
@responses.activate
def test_a_fetched_case_series_answers_for_its_case_in_the_bundled_study(
    raw_dir, tmp_path, monkeypatch, capsys
):
    """data/user + bundled cases: George Floyd's own page views become his primary series,
    and the timing table's answering rows use them instead of #BlackLivesMatter."""
    from analysis.narrative import primary_series
    from analysis.prepare import prepare
    from analysis.timing import timing_table

    monkeypatch.setattr(c, "default_http", lambda refresh=False: _http(tmp_path))
    user = tmp_path / "user"
    monkeypatch.setattr(config, "USER_DATA_DIR", user)  # data/user takes the bundled cases
    _record(lambda article, day: 1000 + 500 * (day.day_of_week == 0))
    assert main(["fetch", "wikipedia", "--cases", "george_floyd", "--data", str(user)]) == 0
    out = tmp_path / "processed"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepare(out, raw_dir, user_dir=user, progress=False)
    study = load_study(out, warn=False)
    assert primary_series(study, "george_floyd") == "george_floyd_wikipedia"
    assert primary_series(study, "breonna_taylor") != "george_floyd_wikipedia"
    labels = timing_table(study, cases=["george_floyd"], stability=False).table
    answering = labels[labels["preferred"]]
    assert len(answering) > 0
    assert set(answering["campaign_id"]) == {"george_floyd_wikipedia"}
    assert set(answering["series_scope"]) == {"case"}
    assert sorted(p.name for p in user.iterdir() if not p.name.startswith(".")) == [
        "campaign_activity.csv",
        "campaigns.csv",
    ]


# --------------------------------------------------------------------------- hostile review


def test_a_study_without_one_cases_table_is_refused_not_replaced_by_the_bundled_cases(
    minimal_dir, tmp_path
):
    """Two cases tables, none, or a file: said before any request (the bundled cases were
    fetched into such a folder before, leaving series of cases it does not have)."""
    pd.read_csv(minimal_dir / "cases.csv").to_excel(minimal_dir / "cases.xlsx", index=False)
    with pytest.raises(DataError, match=r"cases\.csv and cases\.xlsx"):
        cp.cases_of(minimal_dir)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=r"expected a file named cases\.csv"):
        cp.cases_of(empty)
    with pytest.raises(DataError, match="a study folder with a cases table"):
        cp.cases_of(tmp_path / "typo")
    assert not (tmp_path / "typo").exists()
    (tmp_path / "f.csv").write_text("x\n")
    with pytest.raises(OutputError, match="is a file"):
        cp.cases_of(tmp_path / "f.csv")
    cases, _, where = cp.cases_of(config.USER_DATA_DIR)  # data/user: the bundled cases
    assert where.endswith("cases.csv") and len(cases) == 31


@pytest.mark.parametrize(
    "value",
    [
        "https://en.wikipedia.org/wiki/%3Cscript%3E",
        "https://en.wikipedia.org/wiki/A%7CB",
        "https://en.wikipedia.org/wiki/A%0AB",
        "https://en.wikipedia.org/wiki/Foo%23bar",
        "https://en.wikipedia.org/wiki/%20",
        "https://en.wikipedia.org/wiki/" + "a" * 256,
        "HTTPS://evil.example.com/x",
        "//evil.example.com/x",
        "x" * 256,
    ],
)
def test_escaped_or_overlong_titles_break_the_contract(value):
    from analysis.schema import is_wikipedia_article

    assert not is_wikipedia_article(value)


def test_month_and_year_events_end_the_window_at_the_end_of_their_period():
    cases = pd.DataFrame({"case_id": ["a"], "start_date": [pd.NaT], "wikipedia_article": ["A"]})
    events = pd.DataFrame(
        {
            "case_id": ["a", "a"],
            "date": pd.to_datetime(["2020-03-10", "2021-01-01"]),
            "date_precision": ["day", "year"],
        }
    )
    (page,), _ = cp.plan_case_pages(cases, events, today=TODAY)
    assert (page.start, page.end) == ("2019-03-11", "2022-12-31")


@responses.activate
def test_an_invalid_title_or_no_views_at_all_write_nothing(minimal_dir, tmp_path):
    http = _http(tmp_path)
    page = cp.CasePage("free_ana", "free_ana_wikipedia", "en", "A", "2024-01-01", "2024-01-31")
    responses.get(
        re.compile(r"https://en\.wikipedia\.org/w/api\.php.*"),
        json={"query": {"pages": [{"title": "A", "invalid": True, "invalidreason": "bad"}]}},
    )
    with pytest.raises(c.FetchError, match="'A' is not a valid title"):
        cp.fetch_case_page(http, page)
    responses.reset()
    responses.add_callback(responses.GET, WIKI_API, callback=_title_reply)
    responses.get(PV, status=404, json={"type": "not found"})
    done = cp.fetch_cases(_http(tmp_path / "again"), minimal_dir, [page], progress=False)
    assert done.written == [] and "has no views of A" in done.failed[0][1]
    assert "free_ana_wikipedia" not in (minimal_dir / "campaigns.csv").read_text()


@responses.activate
def test_days_the_service_has_not_published_yet_are_unobserved(tmp_path):
    today = pd.Timestamp.now(tz="UTC").tz_localize(None).normalize()
    last = today - pd.Timedelta(days=4)  # published up to four days ago
    responses.add_callback(responses.GET, WIKI_API, callback=_title_reply)
    lo, hi = today - pd.Timedelta(days=30), today - pd.Timedelta(days=1)
    # the recorded reply stops at `last`, as the service does before it publishes a day
    real = _views_reply(lambda a, d: 10)

    def published(request):
        status, headers, body = real(request)
        items = pd.read_json(io.StringIO(body), typ="series")["items"]
        kept = [i for i in items if pd.Timestamp(str(i["timestamp"])[:8]) <= last]
        return status, headers, pd.Series({"items": kept}).to_json()

    responses.add_callback(responses.GET, PV, callback=published)
    s = c.fetch_wikipedia(_http(tmp_path), "x", ["A"], f"{lo:%Y-%m-%d}", f"{hi:%Y-%m-%d}")
    values = s.activity.set_index("date")["value"]
    assert values[:last].eq(10).all()
    assert values[last + pd.Timedelta(days=1) :].isna().all() and len(values[last:]) == 4


@responses.activate
def test_the_service_down_stops_the_run_after_three_cases(minimal_dir, tmp_path, capsys):
    import requests

    responses.get(WIKI_API, body=requests.ConnectionError("offline"))
    pages = [
        cp.CasePage(f"c{i}", f"c{i}_wikipedia", "en", "A", "2024-01-01", "2024-01-02")
        for i in range(5)
    ]
    done = cp.fetch_cases(_http(tmp_path), minimal_dir, pages, progress=False)
    assert len(done.failed) == cp.MAX_SERVICE_FAILURES == 3
    assert [p.case_id for p in done.not_asked] == ["c3", "c4"]


def test_a_fetch_never_pours_one_source_into_another_series(minimal_dir):
    series = c.FetchedSeries(
        {
            "label": "Wikipedia: Ana",
            "platform": "wikipedia-api",
            "metric": "pageviews",
            "unit": "page views per day",
            "source": "Wikimedia REST API",
            "license": "CC0-1.0",
        },
        pd.DataFrame(
            {"campaign_id": "free_ana", "date": pd.to_datetime(["2024-01-01"]), "value": [1.0]}
        ),
    )
    before = (minimal_dir / "campaign_activity.csv").read_bytes()
    with pytest.raises(DataError, match="another series"):
        c.write_series(minimal_dir, "free_ana", series)
    assert (minimal_dir / "campaign_activity.csv").read_bytes() == before


def test_a_case_asked_for_by_name_but_skipped_exits_1(minimal_dir, capsys):
    cases = pd.read_csv(minimal_dir / "cases.csv")
    cases["wikipedia_article"] = ["Ana (activist)", ""]
    cases.to_csv(minimal_dir / "cases.csv", index=False)
    argv = ["fetch", "wikipedia", "--cases", "free_ana", "--data", str(minimal_dir)]
    code = main([*argv, "--start", "2010-01-01", "--end", "2011-01-01"])
    captured = capsys.readouterr()
    assert code == 1 and "skipped free_ana: page views exist from 2015-07-01" in captured.err
    assert main([*argv, "--metric", "views"]) == 2
    assert "--metric: 'views' — expected no value" in capsys.readouterr().err


def test_true_is_not_a_count_of_views():
    with pytest.raises(TypeError):
        c.common._finite(True, "views")
