"""The demo's anchors: a local anvil chain and a loopback RFC 3161 TSA (see
:mod:`copyseal.demo`).

:func:`demo_anchors` starts both (:mod:`copyseal.loopback`) and writes a configuration
file for the demo workspace that is the demo's own ``config.yaml`` plus an ``anchors:``
section naming them: the chain as ``anchors.evm.demo-anvil`` (anvil's first development
key, a public test key, in a 0600 file) and the TSA as ``anchors.tsa.demo-tsa``. That
file lives in the demo folder of the evidence store, so the repository's ``config.yaml``
never names services that exist only while the demo runs. The chain is saved to the demo
folder when anvil stops and loaded again by the next run, so the contract deployed once
and the checkpoints anchored on it stay there; so do the TSA's CA and certificate.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from copyseal.config import Settings
from copyseal.loopback import (
    CHAIN_ID,
    DEV_KEYS,
    AnvilNode,
    LoopbackTsa,
    TsaPki,
    make_pki,
    require_anvil,
)
from copyseal.loopback.tsa import openssl

__all__ = ["EVM_NAME", "TSA_NAME", "DemoAnchors", "demo_anchors"]

EVM_NAME = "demo-anvil"
TSA_NAME = "demo-tsa"


@dataclass(frozen=True, kw_only=True)
class DemoAnchors:
    """The running demo anchors and the configuration file that names them."""

    #: The demo workspace's configuration with the ``anchors:`` section.
    config: Path
    node: AnvilNode
    tsa: LoopbackTsa
    #: The TSA's CA certificate (PEM): what a verifier trusts its tokens by.
    tsa_ca: Path
    #: The file holding the chain key (anvil's development key 0).
    key_file: Path
    #: Where the contract's deployment is remembered between runs (``anchors deploy --json``).
    deployed: Path

    def contract(self) -> str | None:
        """The contract an earlier run deployed, if it is still on the chain.

        Raises:
            SystemExit: it was deployed, but the saved chain no longer has it.
        """
        if not self.deployed.exists():
            return None
        address = str(json.loads(self.deployed.read_text(encoding="utf-8"))["contract"])
        if self.node.rpc("eth_getCode", address, "latest") in ("0x", "0x0", ""):
            raise SystemExit(
                f"demo: the demo chain lost the contract {address} deployed by an earlier run"
                " (anvil was not stopped cleanly); run 'make clean-demo' and 'make demo' again"
            )
        return address


def _pki(folder: Path) -> TsaPki:
    pki = TsaPki(
        key_type="ec",
        ca_cert=folder / "ca.pem",
        tsa_cert=folder / "tsa.pem",
        tsa_key=folder / "tsa.key",
        config=folder / "openssl.cnf",
    )
    if all(p.exists() for p in (pki.ca_cert, pki.tsa_cert, pki.tsa_key, pki.config)):
        return pki
    return make_pki(folder, key_type="ec", label="Demo", organization="copyseal demo")


def _key_file(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(DEV_KEYS[0] + "\n", encoding="ascii")
    path.chmod(0o600)
    return path


def write_config(
    settings: Settings, dest: Path, *, rpc_url: str, key_file: Path, tsa_url: str, tsa_ca: Path
) -> Path:
    """``settings.source`` with every path made absolute (the file moves to another
    folder) and the demo's anchors added; written to ``dest``."""
    source = settings.source
    tree: dict[str, Any] = {}
    if source is not None and source.exists():
        tree = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    workspace = tree.setdefault("workspace", {})
    workspace["evidence_dir"] = str(settings.workspace.evidence_dir)
    workspace["signing_key"] = str(settings.workspace.signing_key)
    tree.setdefault("database", {})["url"] = settings.database.url
    tree.setdefault("logging", {})["file"] = (
        None if settings.logging.file is None else str(settings.logging.file)
    )
    crawl = tree.setdefault("crawl", {})
    crawl["browser_executable"] = str(settings.crawl.browser_executable)
    if settings.crawl.spiders_dir is not None:
        crawl["spiders_dir"] = str(settings.base_dir / settings.crawl.spiders_dir)
    anchors = tree.setdefault("anchors", {})
    anchors["evm"] = {
        EVM_NAME: {
            "rpc_url": rpc_url,
            "chain_id": CHAIN_ID,
            "key_file": str(key_file),
            "contract": None,
            "confirmations": 0,
        }
    }
    anchors["tsa"] = {TSA_NAME: {"url": tsa_url, "ca_file": str(tsa_ca)}}
    header = (
        "# Written by the demo (copyseal.demo) at each run: the demo workspace's config.yaml\n"
        "# with absolute paths, plus an anchors section naming a local anvil chain and a\n"
        "# loopback RFC 3161 TSA that exist only while the demo runs. The chain key is\n"
        "# anvil's development key 0, a PUBLIC test key: never use it on a real chain.\n"
    )
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(header + yaml.safe_dump(tree, sort_keys=False), encoding="utf-8")
    return dest


@contextmanager
def demo_anchors(settings: Settings, folder: Path) -> Iterator[DemoAnchors]:
    """Start anvil (its chain saved in ``folder/anvil/state.json``) and a loopback TSA
    (its CA in ``folder/tsa``), write ``folder/config.yaml``, and stop both on exit.

    Raises:
        LoopbackError: anvil is not installed (``make setup``), openssl is missing, or
            anvil did not start.
    """
    binary = require_anvil()
    openssl()
    folder.mkdir(parents=True, exist_ok=True)
    pki = _pki(folder / "tsa")
    key_file = _key_file(folder / "anvil" / "evm.key")
    node = AnvilNode(binary, state=folder / "anvil" / "state.json")
    try:
        with LoopbackTsa(pki) as tsa:
            config = write_config(
                settings,
                folder / "config.yaml",
                rpc_url=node.url,
                key_file=key_file,
                tsa_url=tsa.url,
                tsa_ca=pki.ca_cert,
            )
            yield DemoAnchors(
                config=config,
                node=node,
                tsa=tsa,
                tsa_ca=pki.ca_cert,
                key_file=key_file,
                deployed=folder / "anvil" / "deployed.json",
            )
    finally:
        node.stop()
