"""Scrapy's resolver answers with the policy's pinned, checked address."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from twisted.internet.error import DNSLookupError
from twisted.python.failure import Failure

from copyseal.config import load_settings
from copyseal.crawl._contexts import ContextRotation
from copyseal.crawl._resolver import PinnedResolver
from copyseal.crawl._settings import scrapy_settings
from copyseal.crawl._spec import JobSpec
from copyseal.errors import CrawlError
from copyseal.netpolicy import AddressPolicy


class _Pool:
    def callInThreadWithCallback(
        self, done: Callable[[bool, Any], None], f: Callable[..., Any], *a: Any
    ) -> None:
        try:
            done(True, f(*a))
        except Exception:
            done(False, Failure())


class _Reactor:
    """Runs "threaded" work at once: enough for deferToThreadPool."""

    def __init__(self) -> None:
        self.installed: Any = None

    def getThreadPool(self) -> _Pool:
        return _Pool()

    def callFromThread(self, f: Callable[..., Any], *a: Any) -> None:
        f(*a)

    def installResolver(self, resolver: Any) -> None:
        self.installed = resolver


def resolve(resolver: PinnedResolver, name: str) -> str | Failure:
    found: list[str | Failure] = []
    resolver.getHostByName(name).addBoth(found.append)
    return found[0]


def test_the_connection_goes_to_the_checked_address_not_a_second_answer() -> None:
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])
    policy = AddressPolicy(resolver=lambda h, p: next(answers))
    reactor = _Reactor()
    resolver = PinnedResolver(reactor, policy)
    resolver.install_on_reactor()
    assert reactor.installed is resolver
    assert resolve(resolver, "rebind.example") == "93.184.216.34"
    assert resolve(resolver, "rebind.example") == "93.184.216.34"


class _NoPoolReactor(_Reactor):
    def getThreadPool(self) -> _Pool:
        raise AssertionError("a pinned name must be answered without a pool thread")


def test_a_pinned_name_is_answered_at_once_with_the_same_address() -> None:
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])
    policy = AddressPolicy(resolver=lambda h, p: next(answers))
    assert resolve(PinnedResolver(_Reactor(), policy), "pinned.example") == "93.184.216.34"
    # Later connections (Twisted asks for every one) are answered from the pin.
    assert resolve(PinnedResolver(_NoPoolReactor(), policy), "Pinned.Example.") == "93.184.216.34"
    refusing = AddressPolicy(resolver=lambda h, p: ["10.0.0.5"])
    refusing.pin("intranet.example")
    found = resolve(PinnedResolver(_NoPoolReactor(), refusing), "intranet.example")
    assert isinstance(found, Failure) and found.check(DNSLookupError)
    assert "10.0.0.5" in str(found.value)


def test_a_refused_name_fails_the_lookup_with_the_reason() -> None:
    policy = AddressPolicy(resolver=lambda h, p: ["10.0.0.5"])
    found = resolve(PinnedResolver(_Reactor(), policy), "intranet.example")
    assert isinstance(found, Failure) and found.check(DNSLookupError)
    assert "refused" in str(found.value) and "10.0.0.5" in str(found.value)


def test_an_ipv6_only_answer_is_not_connectable_over_tcp4() -> None:
    policy = AddressPolicy(resolver=lambda h, p: ["2606:2800:220:1:248:1893:25c8:1946"])
    found = resolve(PinnedResolver(_Reactor(), policy), "v6.example")
    assert isinstance(found, Failure) and "no checked IPv4 address" in str(found.value)


def test_one_policy_is_shared_by_middleware_resolver_and_browser() -> None:
    workspace_settings = load_settings(None, env={})
    spec = JobSpec(target="cli", urls=("http://127.0.0.2/",), allow_networks=("127.0.0.2/32",))
    s = scrapy_settings(workspace_settings, spec, "job")
    policy = s["COPYSEAL_ADDRESS_POLICY"]
    assert isinstance(policy, AddressPolicy)
    assert [str(n) for n in policy.allow_networks] == ["127.0.0.2/32"]
    assert s["TWISTED_DNS_RESOLVER"] == "copyseal.crawl._resolver.PinnedResolver"


def test_render_mode_goes_through_an_egress_proxy() -> None:
    workspace_settings = load_settings(None, env={})
    spec = JobSpec(target="cli", urls=("http://example.com/",), render=True)
    policy = AddressPolicy()
    s = scrapy_settings(workspace_settings, spec, "job", policy=policy)
    launch = s["PLAYWRIGHT_LAUNCH_OPTIONS"]
    assert any(a.startswith("--proxy-server=http://127.0.0.1:") for a in launch["args"])
    assert "--proxy-bypass-list=<-loopback>" in launch["args"]
    assert launch["proxy"]["bypass"] == "<-loopback>"
    # Every render context is made with service workers blocked (copyseal.crawl._contexts).
    assert "copyseal.crawl._contexts.ContextMiddleware" in s["DOWNLOADER_MIDDLEWARES"]
    meta: dict[str, object] = {"playwright": True}
    ContextRotation(every=0).assign(meta)
    assert meta["playwright_context_kwargs"] == {"service_workers": "block"}
    assert s["PLAYWRIGHT_ABORT_REQUEST"] == policy.should_abort


def test_an_environment_proxy_is_never_used() -> None:
    """Scrapy's HttpProxyMiddleware would hand every request to ``http_proxy``, which
    resolves names itself: the pin would be void."""
    spec = JobSpec(target="cli", urls=("http://127.0.0.2/",), allow_networks=("127.0.0.2/32",))
    s = scrapy_settings(load_settings(None, env={}), spec, "job")
    assert s["HTTPPROXY_ENABLED"] is False


def test_scrapys_remote_code_execution_server_is_left_out() -> None:
    """Scrapy 2.19's RemoteControl extension (on by default) serves an HTTP endpoint that
    runs the Python code it is sent inside the crawl process."""
    from scrapy.settings import Settings as ScrapySettings
    from scrapy.utils.conf import build_component_list

    spec = JobSpec(target="cli", urls=("http://127.0.0.2/",), allow_networks=("127.0.0.2/32",))
    scrapy = ScrapySettings(scrapy_settings(load_settings(None, env={}), spec, "job"))
    extensions = build_component_list(scrapy.getwithbase("EXTENSIONS"))
    assert "scrapy.extensions.corestats.CoreStats" in extensions  # the base list is there
    assert "scrapy.extensions.remote_control.RemoteControl" not in extensions
    assert "scrapy.extensions.telnet.TelnetConsole" not in extensions
    assert scrapy.getbool("REMOTE_CONTROL_ENABLED") is False


def test_render_over_cdp_is_refused_unless_every_address_is_allowed() -> None:
    """A browser reached over CDP was not launched through the egress proxy."""
    settings = load_settings(
        None, env={}, overrides=["crawl.browser_cdp_url=http://127.0.0.1:9222"]
    )
    spec = JobSpec(
        target="cli", urls=("http://127.0.0.2/",), allow_networks=("127.0.0.2/32",), render=True
    )
    with pytest.raises(CrawlError, match="does not go through copyseal's egress proxy"):
        scrapy_settings(settings, spec, "job")
    everything = JobSpec(target="cli", urls=("http://127.0.0.1/",), allow_private=True, render=True)
    s = scrapy_settings(settings, everything, "job")
    assert s["PLAYWRIGHT_CDP_URL"] == "http://127.0.0.1:9222"
