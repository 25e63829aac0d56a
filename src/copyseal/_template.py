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
  # Evidence bundles, exports and other artefacts.
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

match:
  # Refuse images with more pixels than this (decompression bombs).
  max_pixels: 100000000
  # Refuse image files larger than this many bytes.
  max_bytes: 50000000

crawl:
  # The User-Agent names copyseal and where site owners can reach you.
  user_agent: "copyseal/{version} (+{contact_url})"
  contact_url: https://example.invalid/copyseal-contact
  # Obey robots.txt (a per-target override must be explicit and is recorded).
  obey_robots_txt: true
  # The Chromium used to render and capture pages (Debian's package).
  browser_executable: /usr/bin/chromium

logging:
  # DEBUG, INFO, WARNING or ERROR.
  level: INFO
  # A rotating log file of JSON lines (null: stderr only).
  file: logs/copyseal.log
  max_bytes: 5000000
  backups: 5
"""
