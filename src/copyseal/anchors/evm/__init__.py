"""The public-chain anchor (kind ``evm``): checkpoints committed by a contract on an EVM chain.

The anchor contract (``Anchor.vy``, shipped compiled) emits
``Anchored(address indexed anchorer, bytes32 indexed origin, uint64 size, bytes32 root)``
for ``anchor(keccak256(origin), size, root)`` and refuses a size that does not grow for the
same (anchorer, origin): the chain itself keeps the anchored log append-only, and nobody
can anchor under another's address. :meth:`EvmAnchor.anchor` sends that transaction
(signed locally, web3.py), waits for ``confirmations`` blocks and anchors again if its block
was reorganised away; a transaction sent but never recorded (copyseal killed meanwhile) is
found again on the chain by :meth:`EvmAnchor.find`. :meth:`EvmAnchor.prove` builds the
self-contained proof (:mod:`copyseal.anchors.evm._proof`: block header, the transaction
and its receipt with their Merkle-Patricia proofs), which :meth:`EvmAnchor.verify` checks
offline down to the block hash; :func:`check_online` asks a node whether that block is
canonical with enough confirmations.

Configuration (``anchors.evm.NAME``): ``rpc_url``, ``chain_id``, ``key_file`` (a hex
private key in a file only its owner may read), ``contract`` (None until deployed),
``confirmations``; verification may pin ``anchorer`` (an address) when there is no key.
Importing this package loads no web3: only anchoring and online checks do. The contract
loader (:func:`load_compiled`, :func:`compile_source`, :func:`write_json`) serves every
Vyper contract copyseal ships (the licence market's too).
"""

from __future__ import annotations

from copyseal.anchors.evm._anchor import KIND, Deployment, EvmAnchor
from copyseal.anchors.evm._chain import read_key
from copyseal.anchors.evm._contract import Contract, compile_source, load_compiled, write_json
from copyseal.anchors.evm._online import check_online

__all__ = [
    "KIND",
    "Contract",
    "Deployment",
    "EvmAnchor",
    "check_online",
    "compile_source",
    "load_compiled",
    "read_key",
    "write_json",
]
