"""Render mode: when has a page finished showing its images?

Network quiet alone is not enough: a page that inserts an image from a timer (0.5-2 s
after load), a carousel that advances to its next slide, or a hydration step that
renders after a deferred callback is quiet on the network until the timer fires. With
the former rule (0.3 s without a request in flight) a local site lost every such image
(``benchmarks/render.py``). Waiting a fixed time on every page instead holds the quiet
pages, most of the web, for nothing.

:data:`SETTLE_INIT_JS` runs in every frame before the page's scripts (an init script) and
watches what the page has scheduled or changed:

* ``setTimeout``/``setInterval``/``requestIdleCallback`` callbacks due within the first
  ``window`` seconds after the page started (``performance.now()`` counts from navigation
  start): pending work that may insert an image. A timer due later than the window, or an
  interval's ticks after it, is not waited for (a carousel that runs forever is
  collected once its slides inside the window were shown);
* a ``MutationObserver`` on the document: elements added that are or hold an image
  (``img``, ``picture``, ``source``, SVG ``image``, ``video``, inline ``url(...)``
  styles), and ``src``/``srcset``/``style``/``class``/``poster`` changes.

:func:`wait_settled` returns once nothing is in flight on the network, no watched timer
is pending, and neither the network nor the DOM changed for ``quiet`` seconds, or at the
cap. A quiet page is thus released ``quiet`` seconds after its scroll.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

__all__ = ["SETTLE_INIT_JS", "install_settle_watch", "page_activity", "wait_settled"]

#: Installed with ``page.add_init_script``: records watched timers and image mutations
#: in ``window.__copysealSettle``. Timers keep their own ids and ``this``; string
#: callbacks (``setTimeout("code", ms)``) are passed through unwatched.
SETTLE_INIT_JS = r"""
(() => {
  if (window.__copysealSettle) return;
  const st = {last: 0, due: new Map(), changes: 0};
  window.__copysealSettle = st;
  const now = () => performance.now();
  const touch = () => { st.last = now(); st.changes += 1; };
  const oTimeout = window.setTimeout, oClearTimeout = window.clearTimeout;
  const oInterval = window.setInterval, oClearInterval = window.clearInterval;
  const oIdle = window.requestIdleCallback, oCancelIdle = window.cancelIdleCallback;
  window.setTimeout = function (fn, delay, ...rest) {
    if (typeof fn !== 'function') return oTimeout.call(window, fn, delay, ...rest);
    let id;
    const run = function (...a) { st.due.delete('t' + id); return fn.apply(this, a); };
    id = oTimeout.call(window, run, delay, ...rest);
    st.due.set('t' + id, now() + (Number(delay) || 0));
    return id;
  };
  window.clearTimeout = function (id) {
    st.due.delete('t' + id);
    return oClearTimeout.call(window, id);
  };
  window.setInterval = function (fn, delay, ...rest) {
    if (typeof fn !== 'function') return oInterval.call(window, fn, delay, ...rest);
    const every = Math.max(Number(delay) || 0, 4);
    let id;
    const run = function (...a) { st.due.set('i' + id, now() + every); return fn.apply(this, a); };
    id = oInterval.call(window, run, delay, ...rest);
    st.due.set('i' + id, now() + every);
    return id;
  };
  window.clearInterval = function (id) {
    st.due.delete('i' + id);
    return oClearInterval.call(window, id);
  };
  if (oIdle) {
    window.requestIdleCallback = function (fn, opts) {
      let id;
      const run = function (...a) { st.due.delete('r' + id); return fn.apply(this, a); };
      id = oIdle.call(window, run, opts);
      st.due.set('r' + id, now() + ((opts && opts.timeout) || 0));
      return id;
    };
    window.cancelIdleCallback = function (id) {
      st.due.delete('r' + id);
      return oCancelIdle.call(window, id);
    };
  }
  const imagey = (n) => {
    if (n.nodeType !== 1) return false;
    if (/^(img|picture|source|image|video)$/.test(n.localName)) return true;
    const s = n.getAttribute && n.getAttribute('style');
    if (s && s.includes('url(')) return true;
    return !!(n.querySelector && n.querySelector('img,picture,source,image,video,[style*="url("]'));
  };
  const seen = new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === 'attributes' || Array.from(r.addedNodes).some(imagey)) { touch(); return; }
    }
  });
  seen.observe(document, {
    childList: true, subtree: true, attributes: true,
    attributeFilter: ['src', 'srcset', 'style', 'class', 'poster', 'href'],
  });
})();
"""

#: ``(window_ms) => {pending, idle_ms, changes}``: timers due inside the window, and ms
#: since the last image mutation (since navigation start if none).
_STATE_JS = r"""
(windowMs) => {
  const st = window.__copysealSettle;
  if (!st) return null;
  let pending = 0;
  for (const due of st.due.values()) if (due <= windowMs) pending += 1;
  return {pending, idle_ms: performance.now() - st.last, changes: st.changes};
}
"""

_POLL = 0.1  # seconds between looks at the page (each is one CDP round trip)


async def install_settle_watch(page: Any, _request: Any = None) -> None:
    """The ``playwright_page_init_callback`` of render mode: watch timers and mutations
    from the page's first script on."""
    await page.add_init_script(SETTLE_INIT_JS)


async def page_activity(page: Any, *, window: float) -> tuple[int, float]:
    """``(pending timers, seconds since the last image mutation)`` of the main frame;
    ``(0, inf)`` if the page cannot say (a navigating page, no watch installed)."""
    try:
        state = await page.evaluate(_STATE_JS, window * 1000)
    except Exception:  # a page navigating or closed: nothing to wait for here
        return 0, math.inf
    if not state:
        return 0, math.inf
    return int(state["pending"]), float(state["idle_ms"]) / 1000


async def wait_settled(page: Any, net: Any, *, quiet: float, window: float, cap: float) -> bool:
    """Wait until the network has nothing in flight, no watched timer is pending and
    neither network nor image DOM changed for ``quiet`` seconds; False at ``cap``
    seconds (the page is still collected).

    ``net`` is the page's :class:`copyseal.crawl._render.NetworkLog` (``inflight``,
    ``last_change``).
    """
    deadline = time.monotonic() + cap
    while True:
        pending, dom_idle = await page_activity(page, window=window)
        net_idle = time.monotonic() - net.last_change
        if net.inflight == 0 and pending == 0 and min(net_idle, dom_idle) >= quiet:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(_POLL)
