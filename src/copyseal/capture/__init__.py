"""Capture: preserve what a web page showed, as evidence.

:func:`capture_page` loads a page in a fresh browser context of a shared
:class:`BrowserSession` and writes a capture folder: screenshots (full page, viewport,
outlined close-ups of matched images), the raw and rendered HTML, the matched images'
bytes, a WACZ holding the WARC (ISO 28500) of every request and response, and
``capture.json`` with the network facts (redirects, server address, DNS, TLS) and the
capture environment (software, browser binary hash, OS, proxies, configuration hash,
clock). The result is a :class:`Capture`. This package knows nothing of matching or the
database. :func:`in_thread` runs blocking file work off the event loop and is safe to
cancel (callers that seal a capture use it too).

``Capture.facts`` (JSON-safe; also stored in the WARC's ``metadata`` record, without the
last two keys)::

    page:        requested_url, final_url, status, reason, content_type, title,
                 document_size, viewport, scroll, settled, user_agent, screenshot_method
    network:     redirect_chain [{url, status, reason, location, server_ip, server_port}],
                 server {ip, port}, protocol, dns {host, port, answers, includes_server_ip,
                 ...}, tls {used, protocol, cipher, subject, issuer, valid_from, valid_to,
                 chain_pem, chain_source, certificate_errors_ignored, ...} (or {used: false,
                 reason}), tls_probe (https only), requests {seen, recorded, failed,
                 pending_at_end, bodies_decoded_by_browser, body_errors},
                 address_policy {refuses, allow_private, allow_networks, enforced_by,
                 refused [{method, target, code, detail, at}], refused_note}
    environment: software {copyseal, python, packages}, browser {version, launch_args,
                 binary {executable, resolved, hashed_file, sha256, wrapper_sha256, note}},
                 os, config_sha256, user_agent, proxy, clock {at_start, at_end},
                 browser_context
    targets:     [{number, url, label, given_box, located, closeup, image}]
    warc:        file, in_wacz, sha256, size, records, page_record_id, page_date, ...
    wacz:        wacz_version, software, warc_member, pages, members, ...
"""

from __future__ import annotations

from copyseal.capture._files import in_thread
from copyseal.capture.page import capture_page, capture_page_sync
from copyseal.capture.result import LAYOUT, Artefact, Box, Capture, CaptureOptions, Target
from copyseal.capture.session import BrowserSession

__all__ = [
    "LAYOUT",
    "Artefact",
    "Box",
    "BrowserSession",
    "Capture",
    "CaptureOptions",
    "Target",
    "capture_page",
    "capture_page_sync",
    "in_thread",
]
