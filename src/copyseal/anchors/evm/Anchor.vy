# pragma version 0.4.3
"""
@title copyseal checkpoint anchor
@notice Commits transparency-log checkpoints (origin, tree size, RFC 9162 root hash),
        append-only per (anchorer, origin): an account may anchor any origin, but only
        under its own address, and only with a size larger than the one it anchored last.
        `origin` is keccak256 of the log's origin string (C2SP tlog-checkpoint).
"""

event Anchored:
    anchorer: indexed(address)
    origin: indexed(bytes32)
    size: uint64
    root: bytes32


struct Head:
    size: uint64
    root: bytes32


heads: HashMap[address, HashMap[bytes32, Head]]


@external
def anchor(origin: bytes32, size: uint64, root: bytes32):
    """
    @notice Anchor checkpoint (origin, size, root) under the caller's address.
    @dev Reverts unless `size` grows: the chain itself keeps each (anchorer, origin)
         append-only, and nobody can write under another's address.
    """
    assert size > self.heads[msg.sender][origin].size, "size does not grow"
    self.heads[msg.sender][origin] = Head(size=size, root=root)
    log Anchored(anchorer=msg.sender, origin=origin, size=size, root=root)


@view
@external
def latest(anchorer: address, origin: bytes32) -> (uint64, bytes32):
    """
    @notice The last checkpoint `anchorer` anchored for `origin` (0, 0x00… if none).
    """
    head: Head = self.heads[anchorer][origin]
    return head.size, head.root
