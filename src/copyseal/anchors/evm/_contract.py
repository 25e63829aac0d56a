"""The anchor contract: its Vyper source, and the ABI and bytecode shipped beside it.

``Anchor.vy`` is compiled with the pinned Vyper (:data:`VYPER_VERSION`) for the EVM
version :data:`EVM_VERSION` (London: no PUSH0 or transient storage, so the same bytecode
runs on Ethereum, its L2s and consortium chains that have not followed every hard fork).
The result is ``anchor_contract.json``; a test compiles the source again and checks the
shipped bytecode is exactly what it compiles to. To rebuild it after changing the source:
``python -c 'from copyseal.anchors.evm import _contract; _contract.write_compiled()'``
(needs the pinned ``vyper``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = [
    "ANCHORED_SIGNATURE",
    "ANCHORED_TOPIC",
    "Contract",
    "compile_source",
    "load_compiled",
    "shipped",
    "source",
    "write_compiled",
    "write_json",
]

VYPER_VERSION = "0.4.3"
EVM_VERSION = "london"
OPTIMIZE = "gas"
_SOURCE = "Anchor.vy"
_COMPILED = "anchor_contract.json"

#: ``topics[0]`` of the ``Anchored`` event: keccak256 of its signature.
ANCHORED_SIGNATURE = "Anchored(address,bytes32,uint64,bytes32)"
ANCHORED_TOPIC = bytes.fromhex("3d0c97912257c6ad70e8f6fc81ae518ad3e14734d308b512c2729cc637a4b0b1")


@dataclass(frozen=True, kw_only=True)
class Contract:
    """The compiled contract: ``abi`` (JSON ABI), ``bytecode`` (deployment code) and
    ``runtime`` (the code a deployment leaves at the contract's address: the contract has
    no immutables, so ``eth_getCode`` returns exactly these bytes)."""

    abi: list[dict[str, Any]]
    bytecode: bytes
    runtime: bytes
    compiler: str
    settings: dict[str, str]


def source() -> str:
    """The contract's Vyper source, as shipped."""
    return resources.files(__package__).joinpath(_SOURCE).read_text(encoding="utf-8")


@cache
def shipped() -> Contract:
    """The compiled contract shipped with copyseal."""
    return load_compiled("copyseal.anchors.evm", _COMPILED)


def load_compiled(package: str, filename: str) -> Contract:
    """A compiled contract shipped as ``filename`` (the JSON :func:`write_json` writes) in
    ``package``: the anchor's here, and any other Vyper contract copyseal ships."""
    doc = json.loads(resources.files(package).joinpath(filename).read_text("utf-8"))
    return Contract(
        abi=doc["abi"],
        bytecode=bytes.fromhex(doc["bytecode"].removeprefix("0x")),
        runtime=bytes.fromhex(doc["bytecode_runtime"].removeprefix("0x")),
        compiler=doc["compiler"],
        settings=doc["settings"],
    )


def compile_source(text: str) -> Contract:
    """Compile ``text`` with the installed Vyper and the pinned settings.

    Raises:
        RuntimeError: the installed Vyper is not :data:`VYPER_VERSION`.
    """
    import vyper  # type: ignore[import-untyped]  # a build and test dependency only
    from vyper.compiler.settings import (  # type: ignore[import-untyped]
        OptimizationLevel,
        Settings,
    )

    version = vyper.__version__.split("+")[0]
    if version != VYPER_VERSION:
        raise RuntimeError(f"the contract is built with vyper {VYPER_VERSION}, not {version}")
    settings = Settings(evm_version=EVM_VERSION, optimize=OptimizationLevel.from_string(OPTIMIZE))
    out = vyper.compile_code(
        text, output_formats=["abi", "bytecode", "bytecode_runtime"], settings=settings
    )
    return Contract(
        abi=out["abi"],
        bytecode=bytes.fromhex(out["bytecode"].removeprefix("0x")),
        runtime=bytes.fromhex(out["bytecode_runtime"].removeprefix("0x")),
        compiler=f"vyper {vyper.__version__}",
        settings={"evm_version": EVM_VERSION, "optimize": OPTIMIZE},
    )


def write_compiled() -> None:
    """Compile the source and write ``anchor_contract.json`` beside it."""
    write_json(compile_source(source()), Path(__file__).with_name(_COMPILED), name="Anchor")


def write_json(contract: Contract, path: Path, *, name: str) -> None:
    """Write ``contract`` as ``path`` (``NAME.vy`` compiled, read by :func:`load_compiled`)."""
    doc = {
        "contract": name,
        "source": f"{name}.vy",
        "compiler": contract.compiler,
        "settings": contract.settings,
        "abi": contract.abi,
        "bytecode": "0x" + contract.bytecode.hex(),
        "bytecode_runtime": "0x" + contract.runtime.hex(),
    }
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}")
