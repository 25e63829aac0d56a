"""One Chromium for many captures, and a fresh browser context for each.

The browser is Debian's Chromium started by Playwright (Playwright cannot download its
own builds here). Every capture gets a new context: no cookies, no cache, no storage, no
extensions and service workers blocked, so nothing from an earlier page can colour the
next one. The environment facts that do not change while the browser runs (software,
browser binary and its SHA-256, OS) are computed once per session.

Every request the browser makes (the page, its sub-resources and frames, redirects,
WebSockets, and ``context.request`` fetches) goes through an
:class:`~copyseal.netpolicy.EgressProxy` that the session starts on 127.0.0.1 and that
obeys the session's :class:`~copyseal.netpolicy.AddressPolicy` (default: global addresses
only). WebRTC is kept off the network (no UDP outside the proxy).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from playwright.async_api import Browser, BrowserContext, Page, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError

from copyseal.capture import _environment
from copyseal.errors import CaptureError
from copyseal.netpolicy import AddressPolicy, EgressProxy

if TYPE_CHECKING:
    from copyseal.config import Settings

__all__ = ["CHROMIUM_ARGS", "BrowserSession"]

#: Options of a context: viewport, User-Agent, ignore HTTPS errors.
_PageKey = tuple[tuple[int, int], str | None, bool]

log = logging.getLogger(__name__)

#: Flags that keep Chromium from talking to anything but the page, so a capture's network
#: log holds the page's requests only: no background, update, sync or metrics traffic, no
#: extensions, default apps or first-run pages, and no QUIC (HTTP/3 over UDP; every request
#: goes over TCP, as the crawler's do). ``--no-sandbox``: Chromium refuses to start as root
#: with its sandbox ("Running as root without --no-sandbox is not supported"). WebRTC may
#: use no UDP outside the proxy (``disable_non_proxied_udp``): ICE would otherwise reach
#: any address the page names, past the egress proxy. The switch is
#: ``--webrtc-ip-handling-policy`` (Chromium maps it to the ``webrtc.ip_handling_policy``
#: pref); ``--force-webrtc-ip-handling-policy`` does not exist, and with it Chromium 156
#: sent a page's STUN binding requests to 127.0.0.1 over UDP (measured here). Chromium 156
#: still asks Google's servers for things with all of these flags (measured here through
#: a logging proxy, a blank page, 20 s): its component updater on demand
#: (``update.googleapis.com/service/update2/json``, component
#: ``ceofaddefefcbblgcgnibnonglccbfja``, the Optimization Guide's on-device models
#: manifest) and account sign-in (``accounts.google.com/ListAccounts``, retried at 1, 2, 5
#: and 13 s). The egress proxy lets a public address through, so those two service URLs
#: are pointed at ``.invalid`` hosts (RFC 6761 §6.4: such names never resolve) and are
#: refused on every machine. Playwright's own ``--disable-features`` list (network time,
#: optimization hints) must not be overridden: Chromium keeps the last one given.
CHROMIUM_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--disable-extensions",
    "--disable-default-apps",
    "--metrics-recording-only",
    "--component-updater=url-source=http://components.invalid/",
    "--gaia-url=http://gaia.invalid/",
)


class BrowserSession:
    """An async context manager owning one Chromium process.

    Example::

        async with BrowserSession(executable=Path("/usr/bin/chromium")) as session:
            capture = await capture_page(url, dest, session=session)
    """

    def __init__(
        self,
        *,
        executable: Path = Path("/usr/bin/chromium"),
        extra_args: tuple[str, ...] = (),
        settings_digest: str | None = None,
        user_agent: str | None = None,
        policy: AddressPolicy | None = None,
    ) -> None:
        self.executable = executable
        #: What the browser may connect to (default: global addresses only).
        self.policy = policy or AddressPolicy()
        self._proxy: EgressProxy | None = None
        self.extra_args = extra_args
        #: ``Settings.digest()`` of the configuration in force, for the environment facts.
        self.settings_digest = settings_digest
        #: Default User-Agent of this session's contexts (None: the browser's own).
        self.user_agent = user_agent
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._static: dict[str, Any] | None = None
        self._lock = asyncio.Lock()
        # A fresh context and blank page made ahead for the next capture, by its options.
        self._spare: tuple[_PageKey, asyncio.Task[tuple[BrowserContext, Page]]] | None = None
        self._pages_made = 0

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        user_agent: str | None = None,
        policy: AddressPolicy | None = None,
    ) -> BrowserSession:
        """The session the configuration describes (browser path, configuration hash,
        ``crawl.allow_networks`` unless ``policy`` is given)."""
        return cls(
            executable=settings.crawl.browser_executable,
            settings_digest=settings.digest(),
            user_agent=user_agent,
            policy=policy
            or AddressPolicy.build(
                networks=settings.crawl.allow_networks, source="crawl.allow_networks"
            ),
        )

    @property
    def egress(self) -> EgressProxy:
        """The session's egress proxy (started with the browser)."""
        if self._proxy is None:
            raise CaptureError("the browser session is not started")
        return self._proxy

    async def start(self) -> None:
        """Launch the browser (once; again if it has died)."""
        async with self._lock:
            if self._browser is not None and self._browser.is_connected():
                return
            if not self.executable.exists():
                raise CaptureError(f"browser not found: {self.executable}")
            if self._proxy is None:
                self._proxy = await asyncio.to_thread(EgressProxy(policy=self.policy).start)
            if self._playwright is None:
                self._playwright = await async_playwright().start()
            try:
                self._browser = await self._playwright.chromium.launch(
                    executable_path=str(self.executable),
                    args=[*CHROMIUM_ARGS, *self._proxy.chromium_args(), *self.extra_args],
                    proxy=self._proxy.playwright_proxy(),  # type: ignore[arg-type]
                    chromium_sandbox=False,
                    headless=True,
                )
            except PlaywrightError as e:
                raise CaptureError(
                    f"cannot start the browser {self.executable}: {str(e).splitlines()[0]}"
                ) from e

    async def close(self) -> None:
        await self._drop_spare()
        if self._browser is not None:
            with contextlib.suppress(PlaywrightError):  # already gone
                await self._browser.close()
            self._browser = None
        if self._playwright is not None:
            await self._playwright.stop()
            self._playwright = None
        if self._proxy is not None:
            await asyncio.to_thread(self._proxy.close)
            self._proxy = None

    async def __aenter__(self) -> BrowserSession:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def browser_version(self) -> str:
        if self._browser is None:
            raise CaptureError("the browser session is not started")
        return self._browser.version

    async def new_context(
        self,
        *,
        viewport: tuple[int, int],
        user_agent: str | None = None,
        ignore_https_errors: bool = False,
    ) -> BrowserContext:
        """A fresh context: empty cookie jar, cache and storage; service workers blocked."""
        await self.start()
        assert self._browser is not None
        return await self._browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]},
            device_scale_factor=1,
            user_agent=user_agent or self.user_agent,
            ignore_https_errors=ignore_https_errors,
            service_workers="block",
            accept_downloads=False,
            java_script_enabled=True,
            bypass_csp=False,
        )

    async def new_page(
        self,
        *,
        viewport: tuple[int, int],
        user_agent: str | None = None,
        ignore_https_errors: bool = False,
    ) -> tuple[BrowserContext, Page]:
        """A fresh context (see :meth:`new_context`) and its one page, still blank.

        Starting a page starts a renderer process: ~0.2 s, mostly CPU. From its second
        page on, a session therefore keeps one context and blank page ready for the next
        call with the same options, made while the current captures run. It is as fresh as
        one made on demand: a new context whose page has loaded nothing but
        ``about:blank`` (no request, cookie, cache entry or storage); it is discarded if it
        does not match, and closed with the session.
        """
        key: _PageKey = (viewport, user_agent or self.user_agent, ignore_https_errors)
        self._pages_made += 1
        spare, self._spare = self._spare, None
        if self._pages_made > 1:
            self._spare = (key, asyncio.ensure_future(self._make_page(key)))
        if spare is not None:
            spare_key, task = spare
            made: tuple[BrowserContext, Page] | None = None
            with contextlib.suppress(PlaywrightError, CaptureError):
                made = await task
            if made is not None:
                context, page = made
                fresh = page.url == "about:blank" and not page.is_closed()
                if spare_key == key and fresh and context.browser is self._browser:
                    return context, page
                with contextlib.suppress(PlaywrightError):
                    await context.close()
        return await self._make_page(key)

    async def _make_page(self, key: _PageKey) -> tuple[BrowserContext, Page]:
        viewport, user_agent, ignore_https_errors = key
        context = await self.new_context(
            viewport=viewport, user_agent=user_agent, ignore_https_errors=ignore_https_errors
        )
        try:
            return context, await context.new_page()
        except BaseException:
            with contextlib.suppress(PlaywrightError):
                await context.close()
            raise

    async def _drop_spare(self) -> None:
        spare, self._spare = self._spare, None
        if spare is None:
            return
        task = spare[1]
        task.cancel()
        await asyncio.wait([task])
        if not task.cancelled() and task.exception() is None:
            context, _page = task.result()
            with contextlib.suppress(PlaywrightError):
                await context.close()

    async def static_environment(self) -> dict[str, Any]:
        """Facts fixed for the session's life (computed once, off the event loop)."""
        if self._static is None:
            binary = await asyncio.to_thread(_environment.browser_binary, self.executable)
            self._static = {
                "software": _environment.software_facts(),
                "browser": {
                    "name": "chromium",
                    "version": self.browser_version,
                    "launch_args": [*CHROMIUM_ARGS, *self.egress.chromium_args(), *self.extra_args],
                    "headless": True,
                    "binary": binary,
                },
                "os": _environment.os_facts(),
                "config_sha256": self.settings_digest,
            }
        return self._static
