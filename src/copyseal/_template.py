"""The documented ``config.yaml`` that ``copyseal init`` writes."""

from __future__ import annotations

__all__ = ["CONFIG_TEMPLATE"]

CONFIG_TEMPLATE = """\
# copyseal workspace configuration.
#
# Every key is optional: what is left out takes the default shown here. Relative paths
# are relative to this file's folder. Merge order (later wins): defaults < this file <
# environment variables COPYSEAL_SECTION__KEY (e.g. COPYSEAL_DATABASE__URL) < command-line
# flags (--set section.key=value). Secrets never go in this file.

workspace:
  # The evidence store: bundles, originals of works, exports and other artefacts. A
  # folder, or a file:/// URL; several machines share one store by mounting the same
  # folder (NFS, CephFS, ...) at the same path on each.
  evidence_dir: evidence
  # The Ed25519 signing key (created by 'copyseal init', mode 0600); its public key is
  # written beside it with the suffix .pub.
  signing_key: keys/signing.key

database:
  # SQLite in this folder by default; PostgreSQL with
  # postgresql+psycopg://USER@HOST:5432/DBNAME (password from ~/.pgpass or PGPASSWORD).
  url: sqlite:///copyseal.db
  # Apply pending schema migrations when a command opens the database.
  auto_migrate: true

ledger:
  # The log's name: the origin line of every checkpoint and the signed notes' key name.
  # Choose a unique, stable name (a domain you control plus a path is the convention).
  origin: copyseal.local/ledger

anchors:
  # The anchor kinds that run, by their names in copyseal.anchors.ANCHORS. null (the
  # default): 'ledger' plus every kind with an entry below ('evm' for evm, 'rfc3161' for
  # tsa, 'witness' for witnesses). A list runs only the kinds it names. 'ledger' is the
  # log's own Ed25519-signed checkpoint, which every receipt and bundle carries (always).
  kinds: null
  # Anchoring after appends (after a crawl seals its bundles) runs at most this often, in
  # seconds; 'copyseal anchors run' anchors at once. A failed anchor is retried with an
  # exponential back-off (30 s doubling, at most 6 h); its error shows in 'anchors status'.
  every_seconds: 600
  # EVM chains to anchor checkpoints on, by name (1-64 characters, no spaces):
  #   NAME: {rpc_url: "http://127.0.0.1:8545", chain_id: 31337, key_file: keys/evm.key,
  #          contract: null, confirmations: 0}
  # key_file holds the sender's hex private key (mode 0600; never in this file, never
  # logged); contract null: the one 'copyseal anchors deploy NAME' deployed.
  evm: {}
  # RFC 3161 time-stamping authorities, by name:
  #   NAME: {url: "http://127.0.0.1:3180/", ca_file: tsa-ca.pem}
  tsa: {}
  # C2SP tlog-witnesses that cosign checkpoints, by name (vkey: the witness's key):
  #   NAME: {url: "http://127.0.0.1:7380/", vkey: "..."}
  witnesses: {}

match:
  # Refuse images with more pixels than this (decompression bombs).
  max_pixels: 100000000
  # Refuse image files larger than this many bytes.
  max_bytes: 50000000
  # Matcher thresholds to change from their calibrated defaults, e.g. {min_inliers: 10}.
  # Every key and the measurement behind its default: copyseal.match.MatchConfig.
  engine: {}
  # The retrieval index of the matcher (known: faiss).
  index: faiss
  # The matcher of crawls, sealing and `copyseal match` (known: workspace: exact copies
  # by SHA-256, then edited copies by the registered works' fingerprints).
  matcher: workspace
  # Processes that match a crawl's images, each with the index loaded once (null: one per
  # core; 0: match on one thread of the crawl process, with no extra process).
  workers: null

crawl:
  # The User-Agent names copyseal and where site owners can reach you.
  user_agent: "copyseal/{version} (+{contact_url})"
  contact_url: https://example.invalid/copyseal-contact
  # Obey robots.txt (a per-target override must be explicit and is recorded).
  obey_robots_txt: true
  # The Chromium used to render and capture pages (Debian's package).
  browser_executable: /usr/bin/chromium
  # Connect to an already running Chromium over CDP (http://127.0.0.1:9222) instead of
  # launching one per crawl (null: launch browser_executable).
  browser_cdp_url: null
  # Folder of Scrapy spiders, yours included (null: the spiders/ folder of copyseal).
  spiders_dir: null
  # Default limits of one crawl: pages fetched, and link depth from the start URLs.
  max_pages: 1000
  max_depth: 5
  # Concurrent requests in all, per domain, and browser pages at once in render mode.
  concurrency: 16
  per_domain_concurrency: 4
  render_concurrency: 4
  # AutoThrottle adapts the delay between requests to each server's latency (seconds).
  autothrottle: true
  autothrottle_start_delay: 1.0
  autothrottle_max_delay: 30.0
  # Per-request timeout (seconds), redirects followed at most, largest page (bytes).
  # Images are limited by match.max_bytes and match.max_pixels.
  timeout: 30.0
  max_redirects: 5
  max_page_bytes: 10000000
  # Image fetches at most per page (any host; data: URIs not counted), and per foreign
  # host (neither the page's host nor an allowed domain) in one crawl. A page chooses
  # what copyseal fetches: these bound how hard one hostile page, or many, can aim the
  # crawler at someone else's server. 200 is well above what gallery pages show at once
  # (they page through more); 1000 per foreign host covers a CDN serving a whole
  # 1000-page site at one image a page (raise it when a site's images live on a CDN).
  # An image over a cap is recorded as skipped (max-images-page / max-images-host).
  max_images_per_page: 200
  max_images_per_host: 1000
  # Render mode: mouse-wheel scroll steps at most (lazy images load as they come into
  # view), then how long to wait for the network to settle (seconds).
  scroll_steps: 30
  settle_timeout: 5.0
  # Render mode: settled after render_quiet seconds without network or image DOM activity;
  # timers a page's scripts set to fire within render_timer_window seconds of its start
  # (an image inserted late, a carousel's next slide, a hydration step) are waited for,
  # up to settle_timeout (0: the network alone decides). render_pages_per_context: a
  # fresh browser context every N pages, the old one closed (0: one context per crawl,
  # whose memory stayed flat over 1,000 pages in benchmarks/render.py).
  render_quiet: 0.3
  render_timer_window: 2.5
  render_pages_per_context: 0
  # Networks that may be fetched although not global (CIDR, e.g. 10.20.0.0/16): by every
  # crawl, render and capture; --allow-network CIDR adds more. Everything else that is not
  # a global address (loopback, private, link-local, CGNAT, ...) is refused. Web-app
  # targets can never allow private networks.
  allow_networks: []
  # Named sites: 'copyseal crawl NAME'. Each target has these keys (only urls required):
  #   urls: [https://shop.example/]   start URLs (files of URLs for spider: urls)
  #   spider: site                   site | sitemap | urls | a spider in spiders_dir
  #   render: false                  render pages in Chromium (JavaScript, lazy images)
  #   allowed_domains: []            default: the start URLs' hosts and their subdomains
  #   max_pages: null                default: max_pages above (same for max_depth)
  #   max_depth: null
  #   allow_private: false           allow every private address (config.yaml only)
  #   obey_robots_txt: true          false needs robots_override_reason (it is recorded)
  #   robots_override_reason: null
  # Example:
  #   targets:
  #     suspect-shop:
  #       urls: [https://shop.example/]
  #       render: true
  targets: {}
  # Recurring crawls, run by 'copyseal scheduler' ('copyseal schedule list' shows the
  # next runs). Cron expressions have five fields (minute hour day-of-month month
  # day-of-week, or @daily, @hourly, ...) and are evaluated in UTC. Each schedule has:
  #   target: suspect-shop           a name under targets (required)
  #   cron: "0 3 * * *"              when, in UTC (required): here 03:00 UTC daily
  #   revisit_matches: false         also crawl every page where earlier crawls of the
  #                                  target found a match (new evidence of continued use)
  #   enabled: true                  false: listed, never run
  # A run missed while no scheduler was running is caught up at the next start: the
  # latest missed occurrence runs once, older ones are recorded as missed.
  # Example:
  #   schedules:
  #     nightly-shop:
  #       target: suspect-shop
  #       cron: "0 3 * * *"
  #       revisit_matches: true
  schedules: {}

capture:
  # Capture and seal each page where a crawl finds a match, as part of the crawl (pages
  # change: the capture comes before review).
  on_match: true
  # Browser viewport of a capture (CSS pixels).
  viewport_width: 1280
  viewport_height: 800
  # Seconds to wait for a page to load, then at most for its network to settle.
  load_timeout: 30.0
  settle_timeout: 10.0
  # An NTP server to measure the system clock's offset against at each capture (null: off).
  ntp_server: null
  # Who makes the bundles (BagIt Source-Organization; null: the matched work's owner).
  organization: null

logging:
  # DEBUG, INFO, WARNING or ERROR.
  level: INFO
  # A rotating log file of JSON lines (null: stderr only).
  file: logs/copyseal.log
  max_bytes: 5000000
  backups: 5

web:
  # The review app ('copyseal serve'). Proxies trusted to state the client's address and
  # scheme (X-Forwarded-For, X-Forwarded-Proto): addresses or CIDR networks, e.g.
  # ["127.0.0.1"] for a reverse proxy on this machine; "*" trusts anyone (only when
  # nothing else can reach the port). Empty (the default): the headers are ignored.
  forwarded_allow_ips: []

market:
  # The licence market ('copyseal market'): the anchors.evm chain whose rpc_url, chain_id
  # and key_file it uses (null: the only one configured), and the market contract's
  # address (null: the one 'copyseal market deploy NAME' deployed).
  chain: null
  contract: null

distributed:
  # 'copyseal crawl --distributed' and 'copyseal worker': the Redis holding each distributed
  # crawl's frontier and duplicate filter (scrapy-redis; the database stays the record),
  # how long a worker may stay silent before its pages in flight and seal claims go to the
  # others (seconds), and how often a page or seal is tried before it is recorded as failed.
  redis_url: redis://127.0.0.1:6379/0
  lease_seconds: 30
  max_attempts: 3
"""
