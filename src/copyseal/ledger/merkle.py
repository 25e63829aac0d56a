"""RFC 9162 Merkle tree hashing and proofs: the public face of the ledger's pure Merkle code.

Everything here is a pure function over bytes (SHA-256, RFC 9162 §2.1): leaf and node
hashes with their domain-separation prefixes, roots, inclusion and consistency proofs and
their verification. Other packages (bundle verification, receipts, anchors, benchmarks)
import these names from here; the implementation lives in the ledger's private module.
"""

from __future__ import annotations

from copyseal.ledger._merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    LEAF_HASH_PREFIX,
    NODE_HASH_PREFIX,
    HashReader,
    RightEdge,
    SubtreeKey,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    subtree_keys,
    tree_root,
    verify_consistency,
    verify_inclusion,
)

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "LEAF_HASH_PREFIX",
    "NODE_HASH_PREFIX",
    "HashReader",
    "RightEdge",
    "SubtreeKey",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_from_leaf_hashes",
    "subtree_keys",
    "tree_root",
    "verify_consistency",
    "verify_inclusion",
]
