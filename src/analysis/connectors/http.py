"""The HTTP client every connector uses: deadlines, size caps, same-host redirects, retries
with backoff and an on-disk reply cache.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from .. import __version__, config
from .._io import atomic_write

__all__ = [
    "MAX_REDIRECTS",
    "MAX_REPLY_BYTES",
    "MAX_RETRY_AFTER",
    "RETRY_STATUS",
    "FetchError",
    "Http",
    "ServiceError",
    "default_http",
    "user_agent",
]


RETRY_STATUS = {429, 500, 502, 503, 504}


class FetchError(RuntimeError):
    """A source could not be reached or answered with something unusable."""


class ServiceError(FetchError):
    """The service itself failed (unreachable, too slow, refusing, or erring after its
    retries), as opposed to a problem with one query: asking again at once for another
    query will most likely fail too."""


def user_agent() -> str:
    """The User-Agent sent with every request (``PP_USER_AGENT`` adds your contact)."""
    contact = os.environ.get("PP_USER_AGENT", "set PP_USER_AGENT to your contact")
    about = "research on online pressure and legal change"
    return f"pressure-precedent/{__version__} ({about}; {contact})"


#: Largest reply read (bytes); a longer one is refused, not buffered.
MAX_REPLY_BYTES = 64_000_000


#: Longest ``Retry-After`` obeyed (seconds); a service asking for more is reported.
MAX_RETRY_AFTER = 120.0


#: Redirects followed (same host and https only).
MAX_REDIRECTS = 5


@dataclass
class Http:
    """A small HTTP client: a total deadline per request, capped reply size, retries with
    backoff, redirects only within the same host over https, and an on-disk reply cache.

    ``timeout`` bounds a whole request (connecting, waiting and reading), not each read,
    so a server that drips a byte a second cannot hold a fetch for long.
    """

    cache_dir: Path | None = None
    refresh: bool = False
    timeout: float = 30.0
    retries: int = 4
    backoff: float = 1.0
    sleep: Callable[[float], None] = time.sleep
    max_bytes: int = MAX_REPLY_BYTES
    max_retry_after: float = MAX_RETRY_AFTER

    def get_json(
        self, url: str, params: dict[str, Any] | None = None, headers: dict[str, Any] | None = None
    ) -> tuple[int, object]:
        """GET ``url`` and return ``(status, parsed JSON)``; 404 is returned, not raised."""
        status, text = self.get_text(url, params, headers)
        try:
            return status, json.loads(text) if text else None
        except (json.JSONDecodeError, RecursionError) as exc:
            raise FetchError(f"{_host(url)}: the reply is not JSON ({text[:80]!r}…)") from exc

    def get_text(
        self, url: str, params: dict[str, Any] | None = None, headers: dict[str, Any] | None = None
    ) -> tuple[int, str]:
        """GET ``url`` and return ``(status, text)`` (cached unless ``refresh``)."""
        key = hashlib.sha256(json.dumps([url, params or {}], sort_keys=True).encode()).hexdigest()
        cached = self.cache_dir / f"{key}.json" if self.cache_dir else None
        if cached and cached.is_file() and not self.refresh:
            try:
                record = json.loads(cached.read_text())
                return int(record["status"]), str(record["text"])
            except (OSError, ValueError, KeyError, TypeError):
                pass  # a damaged cache entry is asked again
        hdrs = {"User-Agent": user_agent(), "Accept": "application/json", **(headers or {})}
        for attempt in range(self.retries + 1):
            try:
                status, text, reply_headers = self._get_once(url, params, hdrs)
            except _Timeout as exc:
                if attempt == self.retries:
                    tries = f"{attempt + 1} {'try' if attempt == 0 else 'tries'}"
                    raise ServiceError(
                        f"{_host(url)}: no complete answer in {tries} (each given at most "
                        f"{self.timeout:g} s, and 10 s without a byte)"
                    ) from exc
                self.sleep(self.backoff * 2**attempt)
                continue
            if status in RETRY_STATUS and attempt < self.retries:
                self.sleep(self._wait(url, reply_headers.get("Retry-After"), attempt))
                continue
            if status in RETRY_STATUS:
                raise ServiceError(
                    f"{_host(url)}: the service answered {status} after {self.retries} retries"
                )
            if status in (401, 403):
                raise ServiceError(f"{_host(url)}: access refused ({status}); check the API key")
            if status not in (200, 404):
                raise FetchError(f"{_host(url)}: unexpected answer {status}")
            if cached:
                record = json.dumps({"status": status, "text": text})
                atomic_write(cached, functools.partial(Path.write_text, data=record))
            return status, text
        raise FetchError(f"{url}: gave up")  # pragma: no cover - the loop always returns or raises

    def _wait(self, url: str, retry_after: str | None, attempt: int) -> float:
        if retry_after and retry_after.strip().isdigit():
            wait = float(retry_after.strip())
            if wait > self.max_retry_after:
                raise FetchError(
                    f"{_host(url)}: the service asks to wait {wait:,.0f} s before asking again "
                    f"(more than {self.max_retry_after:g} s): try again later"
                )
            return wait
        return float(self.backoff * 2**attempt)

    def _get_once(
        self, url: str, params: dict[str, Any] | None, headers: dict[str, Any]
    ) -> tuple[int, str, dict[str, Any]]:
        """One request and its redirects, read in chunks under the deadline and size cap."""
        import requests
        import urllib3

        deadline = time.monotonic() + self.timeout
        origin = urlsplit(url)
        for _ in range(MAX_REDIRECTS + 1):
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Timeout
            try:
                reply = requests.get(
                    url,
                    params=params,
                    headers=headers,
                    timeout=(min(left, 10.0), min(left, 10.0)),
                    stream=True,
                    allow_redirects=False,
                )
            except requests.Timeout as exc:
                raise _Timeout from exc
            except requests.RequestException as exc:
                raise ServiceError(
                    f"cannot reach {_host(url)} (offline?): {exc.__class__.__name__}"
                ) from exc
            with reply:
                if reply.is_redirect:
                    target = urljoin(reply.url, reply.headers.get("Location", ""))
                    parts = urlsplit(target)
                    if parts.scheme != origin.scheme or parts.netloc != origin.netloc:
                        raise FetchError(
                            f"{_host(url)}: redirected to {parts.scheme}://{parts.netloc}, "
                            "another host or scheme; not followed"
                        )
                    url, params = target, None
                    continue
                body = bytearray()
                try:
                    while chunk := reply.raw.read1(65536, decode_content=True):  # as it comes
                        body += chunk
                        if len(body) > self.max_bytes:
                            raise FetchError(
                                f"{_host(url)}: the reply is larger than "
                                f"{self.max_bytes / 1e6:,.0f} MB; ask for a shorter period"
                            )
                        if time.monotonic() > deadline:
                            raise _Timeout
                except (requests.Timeout, urllib3.exceptions.TimeoutError) as exc:
                    raise _Timeout from exc
                except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                    raise FetchError(
                        f"{_host(url)}: the reply broke off ({exc.__class__.__name__})"
                    ) from exc
                text = body.decode(reply.encoding or "utf-8", errors="replace")
                return reply.status_code, text, dict(reply.headers)
        raise FetchError(f"{_host(url)}: more than {MAX_REDIRECTS} redirects")


class _Timeout(Exception):
    """The whole request took longer than its deadline."""


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def default_http(refresh: bool = False) -> Http:
    """The client the CLI uses (cache under ``.cache/http``)."""
    return Http(cache_dir=config.CACHE_DIR / "http", refresh=refresh)
