"""The retrieval index: window pHashes and ORB descriptors of every work, in FAISS.

Two FAISS binary indexes (Johnson, Douze and Jégou, "Billion-scale similarity search with
GPUs", 2017) answer "which works could this query show?" without touching the works:

* **hashes** — 64-bit window pHashes in an exact ``IndexBinaryFlat``, searched by radius.
  At 10^6 hashes a radius query takes ~1 ms per query hash on one core
  (``benchmarks/match_speed.py``). FAISS treats the radius as exclusive, so ``r + 1``
  is passed.
* **descriptors** — each work's strongest, spread ORB descriptors (256-bit). Exact
  (``IndexBinaryFlat``) while small; from ``ivf_threshold`` descriptors on it is rebuilt
  as an inverted file (``IndexBinaryIVF``, k-means-trained on the descriptors held, with a
  fixed seed) so that retrieval stays sub-linear. Query descriptors vote for the works of
  their near neighbours.

FAISS ids encode the work's slot: ``slot << 16 | row``, so removing a work is one range.
The index saves to one file (header JSON + both serialised FAISS indexes) and loads in
about the time it takes to read it.
"""

from __future__ import annotations

import json
import os
import struct
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from copyseal.errors import MatchError
from copyseal.match.fingerprint import WorkFingerprint
from copyseal.match.hashes import ImageHash

__all__ = ["HashHit", "MatchIndex"]

_MAGIC = b"CSIDX1\n"
_SHIFT = 16
_HASH_BITS = 64
_DESC_BITS = 256


@dataclass(frozen=True, kw_only=True, slots=True)
class HashHit:
    """A query hash within radius of a work's window hash.

    Attributes:
        work_id: The work.
        window: Index of the work's window (0 is the whole image).
        query: Index of the query hash in the list searched.
        distance: Hamming distance.
    """

    work_id: str
    window: int
    query: int
    distance: int


def _flat(bits: int) -> Any:
    return faiss.IndexBinaryIDMap2(faiss.IndexBinaryFlat(bits))


class MatchIndex:
    """Window hashes and retrieval descriptors of the registered works.

    Args:
        ivf_threshold: Number of descriptors from which the descriptor index becomes an
            inverted file (0 disables; exact search is then linear in the works).
        nprobe: Inverted lists visited per query descriptor once it is an inverted file.
    """

    def __init__(self, *, ivf_threshold: int = 200_000, nprobe: int = 4) -> None:
        # FAISS's SWIG classes are only partly typed; these are IndexBinaryIDMap2 or IVF.
        self._hashes: Any = _flat(_HASH_BITS)
        self._descs: Any = _flat(_DESC_BITS)
        self._slots: list[str | None] = []
        self._slot_of: dict[str, int] = {}
        self.ivf_threshold = ivf_threshold
        self.nprobe = nprobe
        self._is_ivf = False
        self._trained_at = 0

    # -- content -------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, work_id: object) -> bool:
        return work_id in self._slot_of

    @property
    def n_hashes(self) -> int:
        """Number of window hashes held."""
        return int(self._hashes.ntotal)

    @property
    def n_descriptors(self) -> int:
        """Number of retrieval descriptors held."""
        return int(self._descs.ntotal)

    def add(self, work_id: str, fp: WorkFingerprint, *, n_descriptors: int) -> None:
        """Index a work's window hashes and its first ``n_descriptors`` descriptors.

        Re-adding a work replaces it.
        """
        if work_id in self._slot_of:
            self.remove(work_id)
        if len(fp.global_hash.data) * 8 != _HASH_BITS:
            raise MatchError(f"the index holds {_HASH_BITS}-bit hashes")
        slot = len(self._slots)
        self._slots.append(work_id)
        self._slot_of[work_id] = slot
        base = slot << _SHIFT
        codes = np.stack([wh.hash.to_array() for wh in fp.hashes])
        self._hashes.add_with_ids(codes, base + np.arange(len(codes), dtype=np.int64))
        desc = fp.descriptors[:n_descriptors]
        if len(desc):
            ids = base + np.arange(len(desc), dtype=np.int64)
            self._descs.add_with_ids(np.ascontiguousarray(desc), ids)
        total = int(self._descs.ntotal)
        if self.ivf_threshold and total >= max(self.ivf_threshold, 8 * self._trained_at):
            self.optimize()

    def remove(self, work_id: str) -> None:
        """Forget a work (no error if it is not indexed)."""
        slot = self._slot_of.pop(work_id, None)
        if slot is None:
            return
        self._slots[slot] = None
        sel = faiss.IDSelectorRange(slot << _SHIFT, (slot + 1) << _SHIFT)
        self._hashes.remove_ids(sel)
        self._descs.remove_ids(sel)

    def work_ids(self) -> list[str]:
        """Indexed work ids, in the order they were added."""
        return [w for w in self._slots if w is not None]

    # -- queries -------------------------------------------------------------------------

    def search_hashes(self, hashes: Sequence[ImageHash], radius: int) -> list[HashHit]:
        """Every (query hash, work window) pair within Hamming ``radius`` (inclusive)."""
        if not hashes or self._hashes.ntotal == 0:
            return []
        q = np.stack([h.to_array() for h in hashes])
        lims, dist, ids = self._hashes.range_search(q, radius + 1)  # FAISS radius: exclusive
        out = []
        for qi in range(len(hashes)):
            for j in range(int(lims[qi]), int(lims[qi + 1])):
                ident = int(ids[j])
                work = self._slots[ident >> _SHIFT]
                if work is None:
                    continue
                out.append(
                    HashHit(
                        work_id=work,
                        window=ident & ((1 << _SHIFT) - 1),
                        query=qi,
                        distance=int(dist[j]),
                    )
                )
        return out

    def vote(
        self, descriptors: npt.NDArray[np.uint8], *, k: int, max_distance: int
    ) -> dict[str, int]:
        """Votes per work: query descriptors with a neighbour of that work within
        ``max_distance`` among their ``k`` nearest (each descriptor votes once per work)."""
        if len(descriptors) == 0 or self._descs.ntotal == 0:
            return {}
        dist, ids = self._descs.search(np.ascontiguousarray(descriptors), k)
        ok = (ids >= 0) & (dist <= max_distance)
        votes: dict[str, int] = defaultdict(int)
        for row_ids, row_ok in zip(ids, ok, strict=True):
            slots = {int(i) >> _SHIFT for i in row_ids[row_ok]}
            for s in slots:
                work = self._slots[s]
                if work is not None:
                    votes[work] += 1
        return dict(votes)

    # -- scaling -------------------------------------------------------------------------

    def optimize(self) -> None:
        """Rebuild the descriptor index as an inverted file sized for what it holds now.

        Called automatically when the index first reaches ``ivf_threshold`` descriptors
        and whenever it has grown eightfold since; call it after a bulk load to start
        from well-balanced lists. Takes seconds (k-means) at 10^6 descriptors.
        """
        codes, ids = self._all_descriptors()
        n = len(codes)
        if n == 0:
            return
        # sqrt(n) lists (FAISS's rule of thumb is 4-16 sqrt(n); fewer keeps the k-means
        # training to seconds), trained on 40 codes per list (FAISS asks for >= 39).
        nlist = int(min(4096, max(64, np.sqrt(n))))
        rng = np.random.default_rng(0)
        train = codes[np.sort(rng.choice(n, size=min(n, 40 * nlist), replace=False))]
        quantizer: Any = faiss.IndexBinaryFlat(_DESC_BITS)
        ivf = faiss.IndexBinaryIVF(quantizer, _DESC_BITS, nlist)
        ivf.cp.seed = 1234
        ivf.cp.niter = 8
        ivf.train(train)
        ivf.add_with_ids(codes, ids)
        ivf.nprobe = self.nprobe
        ivf.own_fields = True
        quantizer.this.disown()
        self._descs = ivf
        self._is_ivf = True
        self._trained_at = n

    def _all_descriptors(self) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
        """Every (code, id) in the descriptor index, flat or inverted file."""
        width = _DESC_BITS // 8
        if not self._is_ivf:
            n = int(self._descs.ntotal)
            inner: Any = faiss.downcast_IndexBinary(self._descs.index)
            codes = faiss.vector_to_array(inner.xb).reshape(n, width)
            return codes, faiss.vector_to_array(self._descs.id_map).astype(np.int64)
        ivf: Any = faiss.downcast_IndexBinary(self._descs)
        invlists = ivf.invlists
        parts, id_parts = [], []
        for lst in range(ivf.nlist):
            size = int(invlists.list_size(lst))
            if size:
                ptr = invlists.get_codes(lst)
                parts.append(faiss.rev_swig_ptr(ptr, size * width).copy().reshape(size, width))
                id_parts.append(faiss.rev_swig_ptr(invlists.get_ids(lst), size).copy())
        if not parts:
            return np.zeros((0, width), np.uint8), np.zeros(0, np.int64)
        return np.concatenate(parts), np.concatenate(id_parts).astype(np.int64)

    # -- persistence ---------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index to one file (atomically: temp file, then rename)."""
        header = json.dumps(
            {
                "slots": self._slots,
                "ivf": self._is_ivf,
                "trained_at": self._trained_at,
                "ivf_threshold": self.ivf_threshold,
                "nprobe": self.nprobe,
            },
            separators=(",", ":"),
        ).encode()
        blobs = [
            header,
            faiss.serialize_index_binary(self._hashes).tobytes(),
            faiss.serialize_index_binary(self._descs).tobytes(),
        ]
        target = Path(path)
        tmp = target.with_name(target.name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(_MAGIC)
            for blob in blobs:
                f.write(struct.pack("<Q", len(blob)))
                f.write(blob)
        os.replace(tmp, target)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> MatchIndex:
        """Read a file written by :meth:`save`.

        Raises:
            MatchError: The file is missing, truncated or not an index.
        """
        try:
            data = Path(path).read_bytes()
        except OSError as e:
            raise MatchError(f"cannot read match index {path}: {e}") from e
        if not data.startswith(_MAGIC):
            raise MatchError(f"{path} is not a copyseal match index")
        try:
            off = len(_MAGIC)
            blobs = []
            for _ in range(3):
                (n,) = struct.unpack_from("<Q", data, off)
                off += 8
                blob = data[off : off + n]
                if len(blob) != n:
                    raise ValueError("truncated")
                blobs.append(blob)
                off += n
            header = json.loads(blobs[0])
            hashes: Any = faiss.deserialize_index_binary(np.frombuffer(blobs[1], dtype=np.uint8))
            descs: Any = faiss.deserialize_index_binary(np.frombuffer(blobs[2], dtype=np.uint8))
        except (ValueError, KeyError, RuntimeError, struct.error) as e:
            raise MatchError(f"corrupt match index {path}: {e}") from e
        index = cls(ivf_threshold=int(header["ivf_threshold"]), nprobe=int(header["nprobe"]))
        index._hashes = hashes
        index._descs = descs
        index._is_ivf = bool(header["ivf"])
        index._trained_at = int(header.get("trained_at", 0))
        if index._is_ivf:
            ivf: Any = faiss.downcast_IndexBinary(descs)
            ivf.nprobe = index.nprobe
        index._slots = list(header["slots"])
        index._slot_of = {w: i for i, w in enumerate(index._slots) if w is not None}
        return index
