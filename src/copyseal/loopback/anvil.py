"""A real EVM node on loopback: anvil (Foundry), as ``make setup`` installs it.

:class:`AnvilNode` starts ``anvil --host 127.0.0.1 --port PORT --silent`` on a free port
(or the one given), waits (bounded) until it answers ``eth_chainId``, and stops it on exit.
Anvil mines a block for each transaction at once (automine) and offers test-only JSON-RPC
methods (``evm_mine``, ``evm_snapshot``, ``evm_revert``) that :meth:`AnvilNode.rpc` calls.
With ``state`` it loads the chain from that file if it exists and writes it back when it
stops (anvil's ``--state``), so a chain outlives one run.

:data:`DEV_KEYS` are anvil's first development accounts' private keys: public test keys,
derived from the well-known "test test … junk" mnemonic and funded on every anvil chain.
Anything they sign proves nothing to anyone else.
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

from copyseal.loopback.errors import LoopbackError

__all__ = [
    "CHAIN_ID",
    "DEV_ADDRESSES",
    "DEV_KEYS",
    "AnvilNode",
    "anvil_binary",
    "require_anvil",
]

#: anvil's default chain id.
CHAIN_ID = 31337
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
#: The checkout this package runs from (``src/copyseal/loopback`` → the repository).
_CHECKOUT = Path(__file__).resolve().parents[3]
_START_TIMEOUT = 20.0


def anvil_binary(*roots: Path) -> Path | None:
    """The newest ``.cache/anvil-*/anvil`` under ``roots`` (default: the checkout copyseal
    runs from, then the current folder); None when ``make setup`` has not installed it."""
    for root in roots or (_CHECKOUT, Path.cwd()):
        found = sorted(p for p in root.glob(".cache/anvil-*/anvil") if p.is_file())
        if found:
            return found[-1]
    return None


def require_anvil(*roots: Path) -> Path:
    """:func:`anvil_binary`, or a :class:`LoopbackError` that says how to install it."""
    found = anvil_binary(*roots)
    if found is None:
        raise LoopbackError(
            "anvil (a local EVM node) is not installed: run 'make setup' (or 'make anvil'),"
            " which puts it into .cache/anvil-VERSION/anvil"
        )
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class AnvilNode:
    """A running anvil on 127.0.0.1 (a context manager that stops it).

    Args:
        binary: the anvil executable (:func:`require_anvil`).
        port: the port to listen on (default: a free one).
        state: a file to load the chain from and save it to on stop (default: none,
            the chain is lost when anvil stops).

    Raises:
        LoopbackError: anvil exited or did not answer in time.
    """

    def __init__(self, binary: Path, *, port: int | None = None, state: Path | None = None) -> None:
        self.port = _free_port() if port is None else port
        self.url = f"http://127.0.0.1:{self.port}"
        self.chain_id = CHAIN_ID
        args = [str(binary), "--host", "127.0.0.1", "--port", str(self.port), "--silent"]
        if state is not None:
            args += ["--state", str(state)]
        self._process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    @property
    def pid(self) -> int:
        """The anvil process's id."""
        return self._process.pid

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            if self._process.poll() is not None:
                err = (
                    self._process.stderr.read().decode(errors="replace")
                    if self._process.stderr
                    else ""
                )
                raise LoopbackError(f"anvil exited with {self._process.returncode}: {err}")
            try:
                if int(self.rpc("eth_chainId"), 16) == self.chain_id:
                    return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() >= deadline:
                raise LoopbackError(f"anvil did not answer on {self.url} in {_START_TIMEOUT:g} s")
            time.sleep(0.1)

    def rpc(self, method: str, *params: Any) -> Any:
        """One JSON-RPC call; its result (a JSON-RPC error raises :class:`LoopbackError`)."""
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
        request = urllib.request.Request(
            self.url, data=body.encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.loads(response.read())
        if "error" in answer:
            raise LoopbackError(f"{method}: {answer['error']}")
        return answer["result"]

    def mine(self, blocks: int = 1) -> None:
        """Mine ``blocks`` empty blocks (``evm_mine``)."""
        for _ in range(blocks):
            self.rpc("evm_mine")

    def stop(self) -> None:
        """Stop anvil (SIGTERM, which writes ``state``; SIGKILL after 10 s)."""
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
