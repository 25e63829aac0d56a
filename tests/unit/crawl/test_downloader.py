"""A slot's concurrency holds for requests handed to the downloader in one go (images)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

# A crawl in its own process (a reactor runs once per process): the first page's callback
# fetches 12 URLs at once with engine.download_async, as ImageFetcher does.
_CRAWL = r"""
import asyncio, sys, scrapy
from scrapy.crawler import AsyncCrawlerProcess

class Burst(scrapy.Spider):
    name = "burst"
    async def start(self):
        yield scrapy.Request(sys.argv[1] + "/page")
    async def parse(self, response):
        requests = [scrapy.Request(f"{sys.argv[1]}/img/{i}", dont_filter=True) for i in range(12)]
        done = await asyncio.gather(*(self.crawler.engine.download_async(r) for r in requests))
        print(sum(r.status == 200 for r in done))

p = AsyncCrawlerProcess({
    "LOG_LEVEL": "ERROR", "TELNETCONSOLE_ENABLED": False, "REMOTE_CONTROL_ENABLED": False,
    "CONCURRENT_REQUESTS": 16, "CONCURRENT_REQUESTS_PER_DOMAIN": 2,
    "DOWNLOADER": "copyseal.crawl._downloader.SlotBoundDownloader",
})
p.crawl(Burst)
p.start()
"""


class _Counting(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Counting

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.now += 1
            self.server.most = max(self.server.most, self.server.now)
        time.sleep(0.05)  # long enough for every queued request to have been started
        with self.server.lock:
            self.server.now -= 1
        body = b"x"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[_Counting]:
    srv = _Counting()
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_requests_queued_at_once_never_exceed_the_slot_concurrency(server: _Counting) -> None:
    url = f"http://127.0.0.1:{server.server_address[1]}"
    done = subprocess.run(
        [sys.executable, "-c", _CRAWL, url], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["12"]  # every request answered
    assert server.most == 2  # CONCURRENT_REQUESTS_PER_DOMAIN, not 12
