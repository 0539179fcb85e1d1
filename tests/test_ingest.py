"""Counting post archives into daily series: agreement with a plain pandas reference."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.errors import DataError
from analysis.ingest import count_posts, count_tweet_ids, snowflake_to_datetime

# Tweet IDs with creation times published in Twitter's API documentation examples.
KNOWN_IDS = {
    1050118621198921728: "2018-10-10 20:19:24",
    1212092628029698048: "2019-12-31 19:26:16",
}


def test_snowflake_decoding_matches_published_creation_times():
    got = snowflake_to_datetime(list(KNOWN_IDS)).dt.floor("s").dt.strftime("%Y-%m-%d %H:%M:%S")
    assert got.tolist() == list(KNOWN_IDS.values())


def test_duckdb_decodes_ids_like_numpy(tmp_path):
    ids = [1050118621198921728, 1212092628029698048, 1212092628029698048]
    path = tmp_path / "ids.txt.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(map(str, ids)) + "\n")
    daily = count_tweet_ids(path, "x", start="2018-10-10", end="2019-12-31")  # 446 silent days
    nonzero = daily[daily["value"] > 0]
    assert nonzero["date"].dt.strftime("%Y-%m-%d").tolist() == ["2018-10-10", "2019-12-31"]
    assert nonzero["value"].tolist() == [1.0, 1.0]  # the repeated ID counts once


def _posts(n: int = 4000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = pd.Timestamp("2021-06-01", tz="UTC")
    seconds = rng.integers(0, 20 * 86400, n)
    times = base + pd.to_timedelta(seconds, unit="s")
    offsets = rng.choice([-5, 0, 2, 9], n)
    stamps = [
        (t + pd.Timedelta(hours=int(o))).strftime("%Y-%m-%dT%H:%M:%S") + f"{int(o):+03d}:00"
        for t, o in zip(times, offsets, strict=True)
    ]
    words = np.array(["#IchBinHanna", "#ichbinhanna", "#WissZeitVG", "hello", "#FristIstFrust"])
    text = [" ".join(rng.choice(words, 2)) for _ in range(n)]
    return pd.DataFrame({"id": np.arange(n), "created_at": stamps, "text": text})


def _reference(posts: pd.DataFrame, terms: dict[str, list[str]]) -> pd.DataFrame:
    day = pd.to_datetime(posts["created_at"], utc=True).dt.tz_localize(None).dt.normalize()
    frames = []
    for cid, ts in terms.items():
        hit = posts["text"].str.lower().apply(lambda s, ts=ts: any(t.lower() in s for t in ts))
        counts = day[hit].value_counts().sort_index()
        days = pd.date_range(counts.index.min(), counts.index.max(), freq="D")
        frames.append(
            pd.DataFrame(
                {
                    "campaign_id": cid,
                    "date": days,
                    "value": counts.reindex(days, fill_value=0).astype(float).to_numpy(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


TERMS = {"ichbinhanna": ["#ichbinhanna"], "law": ["#WissZeitVG", "#FristIstFrust"]}


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_count_posts_agrees_with_pandas(tmp_path, fmt):
    posts = _posts()
    path = tmp_path / {"csv": "p.csv", "json": "p.jsonl", "parquet": "p.parquet"}[fmt]
    if fmt == "csv":
        posts.to_csv(path, index=False)
    elif fmt == "json":
        path.write_text("\n".join(json.dumps(r) for r in posts.to_dict("records")))
    else:
        posts.to_parquet(path)
    got = count_posts(path, campaigns=TERMS, match_column="text")
    want = _reference(posts, TERMS)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_count_everything_for_one_campaign_and_distinct_ids(tmp_path):
    posts = _posts(500)
    doubled = pd.concat([posts, posts.head(100)])
    doubled.to_csv(tmp_path / "p.csv", index=False)
    rows = count_posts(tmp_path / "p.csv", campaigns="all")
    ids = count_posts(tmp_path / "p.csv", campaigns="all", distinct="id")
    assert rows["value"].sum() == 600 and ids["value"].sum() == 500


def test_epoch_units(tmp_path):
    t = pd.to_datetime(["2020-01-01 23:59:59", "2020-01-02 00:00:01"], utc=True)
    secs = pd.DataFrame({"ts": [int(x.timestamp()) for x in t]})
    secs.to_csv(tmp_path / "s.csv", index=False)
    (secs * 1000).to_csv(tmp_path / "ms.csv", index=False)
    for unit, name in (("s", "s.csv"), ("ms", "ms.csv")):
        got = count_posts(tmp_path / name, timestamp="ts", unit=unit, campaigns="c")
        assert got["value"].tolist() == [1.0, 1.0], unit


def test_window_fills_observed_zeros_and_drops_outside_days(tmp_path):
    pd.DataFrame(
        {"created_at": ["2020-01-03T10:00:00Z", "2020-01-09T10:00:00Z", "2020-02-01T00:00:00Z"]}
    ).to_csv(tmp_path / "p.csv", index=False)
    got = count_posts(tmp_path / "p.csv", campaigns="c", start="2020-01-01", end="2020-01-10")
    assert len(got) == 10 and got["value"].sum() == 2
    assert got.loc[got["date"] == "2020-01-05", "value"].item() == 0


def test_a_tight_memory_limit_still_finishes(tmp_path):
    n = 300_000
    rng = np.random.default_rng(1)
    ts = pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 365 * 86400, n), unit="s")
    pd.DataFrame({"created_at": ts.strftime("%Y-%m-%d %H:%M:%S"), "id": np.arange(n)}).to_parquet(
        tmp_path / "p.parquet"
    )
    got = count_posts(tmp_path / "p.parquet", campaigns="c", distinct="id", memory_limit="64MB")
    assert got["value"].sum() == n


def test_terms_are_data_not_sql(tmp_path):
    pd.DataFrame({"created_at": ["2020-01-01T00:00:00Z"], "text": ["it's ' OR 1=1 --"]}).to_csv(
        tmp_path / "p.csv", index=False
    )
    got = count_posts(tmp_path / "p.csv", campaigns={"c": ["' OR 1=1 --"]}, match_column="text")
    assert got["value"].tolist() == [1.0]


def test_unknown_format_is_explained(tmp_path):
    (tmp_path / "a.xyz").write_text("x")
    with pytest.raises(ValueError, match="cannot tell the archive format"):
        count_posts([Path(tmp_path / "a.xyz")], campaigns="c")


def test_a_missing_archive_is_named(tmp_path):
    with pytest.raises(DataError, match="an archive file that exists"):
        count_posts([tmp_path / "nope.csv"], campaigns="c")


def test_counting_prints_nothing_on_standard_output(tmp_path, capfd):
    _posts(2000).to_csv(tmp_path / "p.csv", index=False)
    count_posts(tmp_path / "p.csv", campaigns="all")
    assert capfd.readouterr().out == ""


def test_sizes_are_parsed():
    from analysis.ingest import parse_size

    assert parse_size("300MB") == 300_000_000 and parse_size("1.5GB") == 1_500_000_000
    assert parse_size("512KiB") == 512 * 1024 and parse_size("100 mb") == 100_000_000
    with pytest.raises(ValueError, match="not a size"):
        parse_size("lots")


def test_counting_an_archive_does_not_import_pandera():
    """pandera's models import dask (about a second): counting posts needs none of it."""
    import subprocess
    import sys

    code = "import sys, analysis.ingest, analysis.archive; print(sorted({'pandera', 'dask'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
