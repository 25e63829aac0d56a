"""The demo's anchors configuration: the demo workspace's settings, moved to another
folder, plus the anvil chain and the loopback TSA."""

from __future__ import annotations

from pathlib import Path

from copyseal._demo_anchors import EVM_NAME, TSA_NAME, write_config
from copyseal.config import load_settings


def test_the_written_config_is_the_same_workspace_with_anchors(tmp_path: Path) -> None:
    source = tmp_path / "config.yaml"
    source.write_text(
        "workspace: {evidence_dir: evidence, signing_key: evidence/keys/signing.key}\n"
        "database: {url: 'sqlite:///evidence/copyseal.db'}\n"
        "ledger: {origin: example.org/demo-log}\n"
        "logging: {file: evidence/logs/copyseal.log}\n",
        encoding="utf-8",
    )
    settings = load_settings(source, env={})
    dest = write_config(
        settings,
        tmp_path / "evidence" / "demo" / "anchors" / "config.yaml",
        rpc_url="http://127.0.0.1:8545",
        key_file=tmp_path / "evm.key",
        tsa_url="http://127.0.0.1:3180/tsa",
        tsa_ca=tmp_path / "ca.pem",
    )
    assert dest.read_text(encoding="utf-8").startswith("# Written by the demo")
    moved = load_settings(dest, env={})
    assert moved.base_dir != settings.base_dir
    assert moved.workspace == settings.workspace
    assert moved.database.url == settings.database.url
    assert moved.logging.file == settings.logging.file
    assert moved.ledger.origin == "example.org/demo-log"
    assert moved.anchors.kinds == ["ledger", "evm", "rfc3161"]
    evm = moved.anchors.evm[EVM_NAME]
    assert (evm.rpc_url, evm.chain_id, evm.contract) == ("http://127.0.0.1:8545", 31337, None)
    assert evm.key_file == tmp_path / "evm.key"
    assert moved.anchors.tsa[TSA_NAME].ca_file == tmp_path / "ca.pem"
