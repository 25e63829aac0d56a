"""A real EVM node on loopback for tests: anvil (Foundry), as ``make anvil`` installs it.

:class:`AnvilNode` starts ``.cache/anvil-*/anvil --host 127.0.0.1 --port PORT --silent``
on a free port, waits (bounded) until it answers ``eth_chainId``, and stops it on exit.
Anvil mines a block for each transaction at once (automine) and offers test-only JSON-RPC
methods (``evm_mine``, ``evm_snapshot``, ``evm_revert``) that :meth:`AnvilNode.rpc` calls.
:data:`DEV_KEYS` are anvil's first development accounts' private keys: public test keys,
derived from the well-known "test test … junk" mnemonic, funded on every anvil chain.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CHAIN_ID = 31337  # anvil's default
DEV_KEYS = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
)
DEV_ADDRESSES = (
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
)
_START_TIMEOUT = 20.0


def anvil_binary() -> Path | None:
    """The anvil ``make anvil`` installed under ``.cache/`` (None: not installed)."""
    found = sorted(REPO.glob(".cache/anvil-*/anvil"))
    return found[-1] if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class AnvilNode:
    """A running anvil on 127.0.0.1 (a context manager that stops it)."""

    def __init__(self, binary: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.chain_id = CHAIN_ID
        self._process = subprocess.Popen(
            [str(binary), "--host", "127.0.0.1", "--port", str(self.port), "--silent"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            if self._process.poll() is not None:
                err = (
                    self._process.stderr.read().decode(errors="replace")
                    if self._process.stderr
                    else ""
                )
                raise RuntimeError(f"anvil exited with {self._process.returncode}: {err}")
            try:
                if int(self.rpc("eth_chainId"), 16) == self.chain_id:
                    return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() >= deadline:
                raise RuntimeError(f"anvil did not answer on {self.url} in {_START_TIMEOUT:g} s")
            time.sleep(0.1)

    def rpc(self, method: str, *params: Any) -> Any:
        """One JSON-RPC call; its result (a JSON-RPC error raises RuntimeError)."""
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
        request = urllib.request.Request(
            self.url, data=body.encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.loads(response.read())
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    def mine(self, blocks: int = 1) -> None:
        for _ in range(blocks):
            self.rpc("evm_mine")

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        if self._process.stderr:
            self._process.stderr.close()

    def __enter__(self) -> AnvilNode:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
