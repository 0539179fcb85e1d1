"""The HTTP client against a real local server: the size cap, a total deadline, a
Retry-After ceiling, redirects kept on the same host, and cache writes that are whole."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from analysis import connectors as c
from analysis.cli import main


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass

    def _json(self, body: object, status: int = 200, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        port = self.server.server_address[1]
        if self.path.startswith("/ok"):
            self._json({"ok": True})
        elif self.path.startswith("/big"):
            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(40):  # 2.6 MB, no Content-Length
                    self.wfile.write(b"x" * 65536)
            except OSError:  # the client stopped reading, as it should
                pass
        elif self.path.startswith("/drip"):
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            try:
                for _ in range(100):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.1)
            except OSError:
                pass
        elif self.path.startswith("/wait"):
            self._json({}, 429, {"Retry-After": "86400"})
        elif self.path.startswith("/same"):
            self.send_response(302)
            self.send_header("Location", "/ok")
            self.end_headers()
        elif self.path.startswith("/elsewhere"):
            self.send_response(302)
            self.send_header("Location", f"http://localhost:{port}/ok")  # another host name
            self.end_headers()
        elif self.path.startswith("/gdelt"):
            point = {"date": "20200525T000000Z", "value": 12, "norm": 100}
            self._json({"timeline": [{"data": [point]}]})
        else:
            self._json({}, 404)


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _http(**kw) -> c.Http:
    return c.Http(retries=0, sleep=lambda s: None, **kw)


def test_a_reply_larger_than_the_cap_is_refused_not_buffered(server):
    with pytest.raises(c.FetchError, match="larger than 1 MB"):
        _http(max_bytes=1_000_000).get_text(f"{server}/big")


def test_a_dripping_server_meets_one_deadline_for_the_whole_request(server):
    t0 = time.monotonic()
    with pytest.raises(c.FetchError, match="no complete answer in 1 try"):
        _http(timeout=1.0).get_text(f"{server}/drip")
    assert time.monotonic() - t0 < 3  # 100 bytes at 10 per second would take 10 s


def test_a_retry_after_of_a_day_is_reported_not_obeyed(server):
    slept = []
    http = c.Http(retries=2, sleep=slept.append)
    with pytest.raises(c.FetchError, match="asks to wait 86,400 s"):
        http.get_text(f"{server}/wait")
    assert slept == []


def test_redirects_stay_on_the_same_host(server):
    assert _http().get_json(f"{server}/same") == (200, {"ok": True})
    with pytest.raises(c.FetchError, match="another host or scheme; not followed"):
        _http().get_text(f"{server}/elsewhere")


def test_the_cache_is_written_whole_and_a_damaged_entry_is_asked_again(server, tmp_path):
    http = _http(cache_dir=tmp_path)
    assert http.get_json(f"{server}/ok") == (200, {"ok": True})
    (entry,) = tmp_path.iterdir()
    assert json.loads(entry.read_text())["status"] == 200
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    entry.write_text('{"status": 200, "te')  # a cache file cut short
    assert http.get_json(f"{server}/ok") == (200, {"ok": True})


def test_gdelt_has_a_base_url_for_a_local_server(server):
    series = c.fetch_gdelt(
        _http(), "news", "q", "2020-05-25", "2020-05-26", base_url=f"{server}/gdelt"
    )
    assert series.activity["value"].iloc[0] == 12 and series.activity["value"].isna().iloc[1]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--lang", "evil.example/x?"], "--lang: 'evil.example/x?' — expected a Wikipedia"),
        (["--start", "2021-01-01", "--end", "2020-01-01"], "--end: '2020-01-01' — expected"),
    ],
)
def test_fetch_options_that_would_build_a_bad_request_are_refused(argv, expected, tmp_path, capsys):
    base = ["fetch", "wikipedia", "--campaign", "x", "--query", "A", "--data", str(tmp_path / "s")]
    base += ["--start", "2020-01-01", "--end", "2020-01-05"] if "--start" not in argv else []
    assert main(base + argv) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert not (tmp_path / "s").exists()
