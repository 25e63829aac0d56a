"""Gathering one page's evidence from the browser (used by :mod:`.page`)."""

from __future__ import annotations

import asyncio
import mimetypes
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from playwright.async_api import APIResponse, BrowserContext, Page, Request, Response
from playwright.async_api import Error as PlaywrightError

from copyseal.capture import _closeup, _environment, _network, _screenshot
from copyseal.capture._files import ArtefactWriter, in_thread
from copyseal.capture._recorder import NetworkRecorder, RecordedEntry, warc_date
from copyseal.capture._warc import HttpExchange, describe_payload
from copyseal.capture.result import LAYOUT, Box, CaptureOptions, Target
from copyseal.netpolicy import EgressProxy

__all__ = ["Assembler", "now_warc_date"]

_FETCHED_FIELD = "WARC-Copyseal-Fetched-By"


def now_warc_date() -> str:
    return warc_date(time.time())


def _ext_for(content_type: str | None, url: str) -> str:
    media = (content_type or "").split(";")[0].strip().lower()
    ext = {"image/jpeg": ".jpg", "image/svg+xml": ".svg"}.get(media) or (
        mimetypes.guess_extension(media) if media else None
    )
    if not ext:
        ext = Path(urlsplit(url).path).suffix.lower()
    # Only plain extensions: the name becomes an evidence file path in a bundle.
    return ext if re.fullmatch(r"\.[a-z0-9]{1,5}", ext or "") else ".bin"


class Assembler:
    """The state of one capture between the browser and the folder."""

    def __init__(
        self,
        *,
        url: str,
        capture_id: str,
        tmp: Path,
        options: CaptureOptions,
        timer: Any,
        started: datetime,
    ) -> None:
        self.url = url
        self.capture_id = capture_id
        self.tmp = tmp
        self.options = options
        self.timer = timer
        self.started = started
        self.errors: list[str] = []
        self.files = ArtefactWriter(tmp)
        self.recorder: NetworkRecorder | None = None
        self.resources: list[tuple[str, str, bytes, str]] = []  # uri, media type, data, date
        self.targets_facts: list[dict[str, Any]] = []
        self.fetched: list[HttpExchange] = []
        self.page_facts: dict[str, Any] = {}
        self.network: dict[str, Any] = {}
        self.environment: dict[str, Any] = {}
        self.exchanges: list[tuple[RecordedEntry, HttpExchange, dict[str, Any]]] = []
        self.main_entry: RecordedEntry | None = None
        self.final_url = url
        self.dom = b""
        # The full-page screenshot and the page box it shows; targets located before it.
        self._full: tuple[bytes, Box] | None = None
        self._located_before: list[_closeup.Located] = []

    # -- in the browser ----------------------------------------------------------------
    async def attach(
        self, context: BrowserContext, page: Page, *, egress: EgressProxy | None = None
    ) -> None:
        self.recorder = NetworkRecorder(context, page, egress=egress)
        await self.recorder.attach()

    @property
    def rec(self) -> NetworkRecorder:
        assert self.recorder is not None
        return self.recorder

    async def settle(self) -> None:
        o = self.options
        settled = await self.rec.wait_idle(idle=o.idle_time, timeout=o.settle_timeout)
        pending = self.rec.pending()
        if not settled:
            shown = ", ".join(pending[:5]) + (" ..." if len(pending) > 5 else "")
            self.errors.append(
                f"the network did not settle within {o.settle_timeout:g} s "
                f"({len(pending)} request(s) still in flight: {shown}); captured as it was"
            )
        self.page_facts["settled"] = settled
        await self.rec.drain(timeout=min(5.0, o.settle_timeout))

    async def photograph(
        self, page: Page, *, scroll: dict[str, Any], targets: tuple[Target, ...] = ()
    ) -> None:
        """The full-page and viewport screenshots (targets are located just before, so
        that :meth:`closeups` knows whether they sat where the full-page one shows them)."""
        timeout = self.options.load_timeout
        self._located_before = [await _closeup.locate(page, t) for t in targets]
        self.final_url = page.url
        (width, height), title, user_agent = await asyncio.gather(
            _closeup.document_size(page), page.title(), page.evaluate("() => navigator.userAgent")
        )
        self.page_facts.update(
            {
                "title": title,
                "document_size": [width, height],
                "viewport": list(self.options.viewport),
                "scroll": scroll,
                "user_agent": user_agent,
                "screenshot_method": _screenshot.METHOD,
            }
        )
        with self.timer("screenshots"):
            if height > self.options.max_page_height:
                self.errors.append(
                    f"the page is {height} px tall: the full-page screenshot stops at "
                    f"{self.options.max_page_height} px"
                )
                height = self.options.max_page_height
            whole = Box(x=0, y=0, width=max(width, 1), height=max(height, 1))
            full = await _screenshot.png(page, self.rec.cdp, clip=whole, timeout=timeout)
            self._full = (full, whole)
            await self._keep(
                "screenshot-full", LAYOUT["screenshot-full"], full, "image/png", "screenshot-full"
            )
            viewport = await _screenshot.png(page, self.rec.cdp, timeout=timeout)
            await self._keep(
                "screenshot-viewport",
                LAYOUT["screenshot-viewport"],
                viewport,
                "image/png",
                "screenshot-viewport",
            )

    async def _keep(self, role: str, rel: str, data: bytes, media: str, urn: str) -> None:
        # Hashing, writing and fsync off the event loop: the browser work of the other
        # pages being captured at the same time goes on meanwhile.
        await in_thread(self.files.write, rel, data, media_type=media, role=role)
        self.resources.append(
            (f"urn:copyseal:{urn}:{self.final_url}", media, data, now_warc_date())
        )

    async def closeups(self, page: Page, targets: tuple[Target, ...]) -> None:
        with self.timer("closeups"):
            for n, target in enumerate(targets, start=1):
                facts: dict[str, Any] = {
                    "number": n,
                    "url": target.url,
                    "label": target.label,
                    "given_box": None if target.box is None else target.box.to_json(),
                }
                located = await _closeup.locate(page, target)
                facts["located"] = located.to_json()
                if located.box is None:
                    self.errors.append(f"target {n} ({target.url}) was not found on the page")
                else:
                    png, clip, method = await self._closeup(page, n, located)
                    rel = LAYOUT["closeup"].format(n=n)
                    await self._keep("closeup", rel, png, "image/png", f"closeup:{n:02d}")
                    facts["closeup"] = {
                        "path": rel,
                        "clip": clip.to_json(),
                        "outline": {
                            "rgb": list(_closeup.OUTLINE_RGB),
                            "width_px": _closeup.OUTLINE_WIDTH,
                            "drawn_outside_box": True,
                        },
                        "method": method,
                    }
                self.targets_facts.append(facts)

    async def _closeup(
        self, page: Page, n: int, located: _closeup.Located
    ) -> tuple[bytes, Box, str]:
        """Cut from the full-page screenshot if the target was located at the same place
        just before it was taken (see :mod:`._closeup`), else photographed by the browser."""
        assert located.box is not None
        margin = self.options.closeup_margin
        before = self._located_before[n - 1] if n <= len(self._located_before) else None
        if self._full is not None and before is not None and before.box == located.box:
            full, whole = self._full
            cut = await in_thread(_closeup.crop, full, whole, located.box, margin=margin)
            if cut is not None:
                return cut[0], cut[1], _closeup.CROP_METHOD
        png, clip = await _closeup.photograph(
            page, self.rec.cdp, located.box, margin=margin, timeout=self.options.load_timeout
        )
        return png, clip, _closeup.OVERLAY_METHOD

    async def keep_images(self, context: BrowserContext, targets: tuple[Target, ...]) -> None:
        """Keep each target image's bytes: from the page load, else fetched in the context."""
        with self.timer("images"):
            for n, target in enumerate(targets, start=1):
                if not target.url:
                    continue
                facts = self.targets_facts[n - 1]
                url = urljoin(self.url, target.url)
                entry = next(
                    (
                        e
                        for e in self.rec.entries
                        if e.url == url and e.done and e.status == 200 and e.body
                    ),
                    None,
                )
                if entry is not None:
                    ctype = dict((k.lower(), v) for k, v in entry.response_headers).get(
                        "content-type"
                    )
                    data, source, status = entry.body, "page load", 200
                else:
                    fetched = await self._fetch(context, url)
                    if fetched is None:
                        facts["image"] = None
                        continue
                    data, ctype, status = fetched
                    source = "fetched by copyseal in the capture's context (not by the page)"
                rel = LAYOUT["image"].format(n=n, ext=_ext_for(ctype, url))
                art = await in_thread(
                    self.files.write,
                    rel,
                    data,
                    media_type=ctype or "application/octet-stream",
                    role="image",
                )
                facts["image"] = {
                    "path": rel,
                    "url": url,
                    "source": source,
                    "status": status,
                    "content_type": ctype,
                    "sha256": art.sha256,
                    "size": art.size,
                }

    async def _fetch(
        self, context: BrowserContext, url: str
    ) -> tuple[bytes, str | None, int] | None:
        try:
            resp: APIResponse = await context.request.get(
                url, timeout=self.options.load_timeout * 1000, fail_on_status_code=False
            )
            body = await resp.body()
        except PlaywrightError as e:
            self.errors.append(f"image {url} could not be downloaded: {str(e).splitlines()[0]}")
            return None
        headers = [(h["name"], h["value"]) for h in resp.headers_array]
        self.fetched.append(
            HttpExchange(
                url=url,
                method="GET",
                http_version="HTTP/1.1",
                request_headers=(("Host", urlsplit(url).netloc),),
                status=resp.status,
                reason=resp.status_text,
                response_headers=tuple(headers),
                body=body,
                date=now_warc_date(),
                extra_fields=((_FETCHED_FIELD, "copyseal (Playwright APIRequestContext)"),),
            )
        )
        if resp.status != 200:
            self.errors.append(f"image {url} answered HTTP {resp.status}")
            return None
        return body, resp.headers.get("content-type"), resp.status

    async def tls(self, response: Response) -> None:
        final = response.url
        entry = self._entry_of(response)
        hop = self._devtools_hop(final, response.status)
        chain: list[str] = []
        parts = urlsplit(final)
        if parts.scheme == "https":
            origin = f"{parts.scheme}://{parts.netloc}"
            chain = await self.rec.certificate_chain(origin)
        self.network["tls"] = _network.tls_facts(
            final,
            playwright_details=None if entry is None else entry.security,
            devtools_response=hop,
            chain_pem=chain,
            ignore_https_errors=self.options.ignore_https_errors,
        )
        if parts.scheme == "https" and self.options.tls_probe and entry and entry.server_ip:
            probe = await asyncio.to_thread(
                _network.probe_tls,
                parts.hostname or "",
                entry.server_ip,
                entry.server_port or 443,
                timeout=5.0,
            )
            self.network["tls_probe"] = probe
            if not chain and probe.get("leaf_pem"):
                self.network["tls"]["chain_pem"] = [probe["leaf_pem"]]
                self.network["tls"]["chain_source"] = "leaf only, from the separate Python probe"

    def _entry_of(self, response: Response) -> RecordedEntry | None:
        return next((e for e in self.rec.entries if e.request is response.request), None)

    def _devtools_hop(self, url: str, status: int) -> dict[str, Any] | None:
        queue = self.rec.devtools_hops().get((url, status))
        return queue[0] if queue else None

    async def collect(self, page: Page, response: Response) -> None:
        self.dom = (await page.content()).encode("utf-8")
        self.final_url = response.url
        self.main_entry = self._entry_of(response)
        self.exchanges = self.rec.exchanges()
        chain: list[dict[str, Any]] = []
        req: Request | None = response.request
        hops: list[Request] = []
        while req is not None:
            hops.append(req)
            req = req.redirected_from
        for r in reversed(hops):
            e = next((x for x in self.rec.entries if x.request is r), None)
            headers = dict((k.lower(), v) for k, v in (e.response_headers if e else []))
            chain.append(
                {
                    "url": r.url,
                    "status": e.status if e else None,
                    "reason": e.response.status_text if e and e.response else "",
                    "location": headers.get("location"),
                    "server_ip": e.server_ip if e else None,
                    "server_port": e.server_port if e else None,
                }
            )
        self.network["redirect_chain"] = _network.redirect_chain(chain)
        main = self.main_entry
        self.network["server"] = {
            "ip": main.server_ip if main else None,
            "port": main.server_port if main else None,
        }
        hop = self._devtools_hop(response.url, response.status) or {}
        self.network["protocol"] = hop.get("protocol")
        failed = [{"url": e.url, "error": e.failure} for e in self.rec.entries if e.failure]
        decoded = sum(
            1
            for _, ex, _ in self.exchanges
            if describe_payload(ex.response_headers, len(ex.body))[1]
        )
        self.network["requests"] = {
            "seen": len(self.rec.entries),
            "recorded": len(self.exchanges),
            "failed": failed,
            "pending_at_end": self.rec.pending(),
            "bodies_decoded_by_browser": decoded,
            "body_errors": [
                {"url": e.url, "error": e.body_error} for e in self.rec.entries if e.body_error
            ],
        }
        if self.rec.notes:
            self.errors.extend(self.rec.notes)
        self.page_facts.update(
            {
                "requested_url": self.url,
                "final_url": response.url,
                "status": response.status,
                "reason": response.status_text,
                "content_type": response.headers.get("content-type"),
            }
        )

    def set_environment(
        self, static: dict[str, Any], clock: dict[str, Any], dns: dict[str, Any]
    ) -> None:
        self.network["dns"] = dns
        server_ip = self.network.get("server", {}).get("ip")
        answers = [a["address"] for a in dns.get("answers", [])]
        self.network["dns"]["includes_server_ip"] = (server_ip in answers) if server_ip else None
        self.environment = {
            **static,
            "user_agent": self.page_facts.get("user_agent"),
            "proxy": _environment.proxy_settings(),
            "clock": {"at_start": clock, "at_end": _environment.clock_facts(None)},
            "browser_context": {
                "fresh": True,
                "cookies": "none (new context)",
                "cache": "empty (new context)",
                "service_workers": "blocked",
                "extensions": "none",
                "ignore_https_errors": self.options.ignore_https_errors,
            },
        }

    # -- on disk -----------------------------------------------------------------------
    def facts(self) -> dict[str, Any]:
        return {
            "page": self.page_facts,
            "network": self.network,
            "environment": self.environment,
            "targets": self.targets_facts,
        }
