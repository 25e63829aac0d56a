"""The FAISS retrieval index (``match.index: faiss``): window pHashes and ORB descriptors.

Two FAISS binary indexes (Johnson, Douze and Jégou, "Billion-scale similarity search with
GPUs", 2017) answer "which works could this query show?" without touching the works:

* **hashes** — 64-bit window pHashes in an exact ``IndexBinaryFlat``, searched by radius
  (~0.6 ms per query hash at 10^6 hashes on one core, ``benchmarks/match_speed.py``;
  FAISS treats the radius as exclusive, so ``r + 1`` is passed). Query hashes with a
  small radius (the engine's turned orientations, radius 8) are instead answered by
  multi-index hashing (:mod:`copyseal.match._mih`; at radius 8 it checks ~0.3 % of the
  codes, against all of them for the flat scan). Its tables are built in memory when the
  index is loaded or first searched (~0.7 s and ~64 bytes per hash at 10^6 hashes; not
  saved) and used from ``mih_min_hashes`` hashes on.
* **descriptors** — each work's strongest, spread ORB descriptors (256-bit). Exact
  (``IndexBinaryFlat``) while small; from ``ivf_threshold`` descriptors on it is rebuilt
  as an inverted file (``IndexBinaryIVF``, k-means-trained on the descriptors held, with a
  fixed seed) so that retrieval stays sub-linear. Query descriptors vote for the works of
  their near neighbours.

FAISS ids encode the work's slot: ``slot << 16 | row``, so removing a work is one range.
The index saves to one file (both serialised FAISS indexes + header JSON + a SHA-256
trailer, :mod:`copyseal.match._index_file`); a loaded inverted file is mapped from it,
shared between processes. :class:`FaissIndex` satisfies
:class:`~copyseal.match.retrieval.RetrievalIndex`; nothing outside this module touches
FAISS's index objects.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Self

import faiss
import numpy as np
import numpy.typing as npt

from copyseal.errors import MatchError
from copyseal.match._index_file import read_index_file, write_index_file
from copyseal.match._mih import MIH_MAX_FRACTION, MultiIndex, as_u64, mih_fraction
from copyseal.match.fingerprint import WorkFingerprint
from copyseal.match.hashes import ImageHash
from copyseal.match.retrieval import HashHit, VotePairs

__all__ = ["FaissIndex"]

_SHIFT = 16
_HASH_BITS = 64
_DESC_BITS = 256


def _flat(bits: int) -> Any:
    return faiss.IndexBinaryIDMap2(faiss.IndexBinaryFlat(bits))


class FaissIndex:
    """Window hashes and retrieval descriptors of the registered works, in FAISS.

    Args:
        ivf_threshold: Number of descriptors from which the descriptor index becomes an
            inverted file (0 disables; exact search is then linear in the works). 10,000
            (ten works at ``retrieval_features`` 1000): at 100 works (95,000 descriptors)
            the exact scan cost ~15 ms per 600 query descriptors, the inverted file at
            ``nprobe`` 4 ~2-3 ms, and ``match_accuracy.py``'s queries plus 300 crawl-site
            images found the same works with either (and with ``nprobe`` 8 or 16).
        nprobe: Inverted lists visited per query descriptor once it is an inverted file.
            3: the scan of the lists is most of a vote search (at 10^4 works, 600 query
            descriptors: ~8 ms per list visited, 2 ms for choosing them), and 1,081
            queries (``match_accuracy.py``'s, 53 crawl-site copies, 100 negatives) found
            the same works at 3 as at 4 against 100 and 10^4 works, 7 % and 13 % faster;
            at 2 one crop was lost at 100 works (``benchmarks/README.md``).
        mih_min_hashes: Number of hashes from which small-radius queries go through the
            multi-index chunk tables; below it every query hash goes through the flat scan.
    """

    def __init__(
        self, *, ivf_threshold: int = 10_000, nprobe: int = 3, mih_min_hashes: int = 200_000
    ) -> None:
        # FAISS's SWIG classes are only partly typed; these are IndexBinaryIDMap2 or IVF.
        self._hashes: Any = _flat(_HASH_BITS)
        self._descs: Any = _flat(_DESC_BITS)
        self._slots: list[str | None] = []
        self._slot_of: dict[str, int] = {}
        self.ivf_threshold = ivf_threshold
        self._is_ivf = False
        self.nprobe = nprobe
        self._mapped = False  # _descs is a read-only view of a saved file (load)
        self._trained_at = 0
        self._mih: MultiIndex | None = None  # built at the first small-radius query
        self.mih_min_hashes = mih_min_hashes

    @property
    def nprobe(self) -> int:
        """Inverted lists visited per query descriptor once the index is an inverted file;
        set, it applies from the next search (and is saved with the index)."""
        return self._nprobe

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        if value < 1:
            raise MatchError(f"nprobe must be at least 1, not {value}")
        self._nprobe = int(value)
        if self._is_ivf:
            ivf: Any = faiss.downcast_IndexBinary(self._descs)
            ivf.nprobe = self._nprobe

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
        self._own_descriptors()  # before anything changes: the copy may fail on memory
        slot = len(self._slots)
        self._slots.append(work_id)
        self._slot_of[work_id] = slot
        base = slot << _SHIFT
        codes = np.stack([wh.hash.to_array() for wh in fp.hashes])
        hash_ids = base + np.arange(len(codes), dtype=np.int64)
        self._hashes.add_with_ids(codes, hash_ids)
        if self._mih is not None:
            self._mih.append(as_u64(codes), hash_ids)
        desc = fp.descriptors[:n_descriptors]
        if len(desc):
            ids = base + np.arange(len(desc), dtype=np.int64)
            self._descs.add_with_ids(np.ascontiguousarray(desc), ids)
        total = int(self._descs.ntotal)
        if self.ivf_threshold and total >= max(self.ivf_threshold, 8 * self._trained_at):
            self.optimize()

    def add_many(self, works: Iterable[tuple[str, WorkFingerprint]], *, n_descriptors: int) -> None:
        """Index many works; the inverted file, if the descriptors held are many enough
        for one, is trained once at the end (not at each growth step on the way)."""
        threshold, self.ivf_threshold = self.ivf_threshold, 0
        try:
            for work_id, fp in works:
                self.add(work_id, fp, n_descriptors=n_descriptors)
        finally:
            self.ivf_threshold = threshold
        if threshold and self.n_descriptors >= max(threshold, 8 * self._trained_at):
            self.optimize()

    def remove(self, work_id: str) -> None:
        """Forget a work (no error if it is not indexed)."""
        if work_id not in self._slot_of:
            return
        self._own_descriptors()  # before anything changes: the copy may fail on memory
        slot = self._slot_of.pop(work_id)
        self._slots[slot] = None
        sel = faiss.IDSelectorRange(slot << _SHIFT, (slot + 1) << _SHIFT)
        self._hashes.remove_ids(sel)
        self._descs.remove_ids(sel)

    def _own_descriptors(self) -> None:
        """Copy a descriptor index mapped from a file into memory before changing it:
        FAISS aborts the whole process (not an exception) on an add or a removal in a
        mapped index (``MaybeOwnedVector``, FAISS 1.15)."""
        if self._mapped:
            owned: Any = faiss.deserialize_index_binary(faiss.serialize_index_binary(self._descs))
            if self._is_ivf:
                ivf: Any = faiss.downcast_IndexBinary(owned)
                ivf.nprobe = self.nprobe
            self._descs, self._mapped = owned, False

    def work_ids(self) -> list[str]:
        """Indexed work ids, in the order they were added."""
        return [w for w in self._slots if w is not None]

    # -- queries -------------------------------------------------------------------------

    def search_hashes(
        self, hashes: Sequence[ImageHash], radius: int | Sequence[int]
    ) -> list[HashHit]:
        """Every (query hash, work window) pair within Hamming ``radius`` (inclusive).

        ``radius`` is one for all query hashes or one per query hash. Exact either way:
        small radii go through the chunk tables, large ones through the flat scan.
        """
        if not hashes or self._hashes.ntotal == 0:
            return []
        radii = [radius] * len(hashes) if isinstance(radius, int) else list(radius)
        if len(radii) != len(hashes):
            raise ValueError("one radius per query hash")
        if len(hashes[0].data) * 8 != _HASH_BITS:
            raise MatchError(f"the index holds {_HASH_BITS}-bit hashes")
        # The flat scan reads every code once per query hash; the chunk tables pay off
        # only for small radii and large indexes.
        use_mih = [
            r >= 0
            and mih_fraction(r) <= MIH_MAX_FRACTION
            and self._hashes.ntotal >= self.mih_min_hashes
            for r in radii
        ]
        found: list[tuple[int, npt.NDArray[np.int64], npt.NDArray[np.int64]]] = []
        flat = [i for i, m in enumerate(use_mih) if not m]
        for r in sorted({radii[i] for i in flat}):
            sel = [i for i in flat if radii[i] == r]
            q = np.stack([hashes[i].to_array() for i in sel])
            lims, dist, ids = self._hashes.range_search(q, r + 1)  # FAISS radius: exclusive
            for k, qi in enumerate(sel):
                a, b = int(lims[k]), int(lims[k + 1])
                found.append((qi, ids[a:b].astype(np.int64), dist[a:b].astype(np.int64)))
        sel = [i for i, m in enumerate(use_mih) if m]
        if sel:
            results = self._multi_index().search(
                [int.from_bytes(hashes[i].data, "big") for i in sel], [radii[i] for i in sel]
            )
            for qi, (ids_q, dist_q) in zip(sel, results, strict=True):
                order = np.argsort(ids_q, kind="stable")  # deterministic: by id
                found.append((qi, ids_q[order], dist_q[order]))
        out = []
        for qi, ids_q, dist_q in sorted(found, key=lambda f: f[0]):
            for ident, d in zip(ids_q.tolist(), dist_q.tolist(), strict=True):
                work = self._slots[ident >> _SHIFT]
                if work is None:
                    continue
                out.append(
                    HashHit(
                        work_id=work,
                        window=ident & ((1 << _SHIFT) - 1),
                        query=qi,
                        distance=int(d),
                    )
                )
        return out

    def prepare_search(self) -> None:
        """Build the chunk tables now rather than at the first query that needs them
        (~0.2 s at 10^6 hashes); nothing to do for a small index."""
        if self._hashes.ntotal >= self.mih_min_hashes and self._hashes.ntotal:
            self._multi_index()

    def _multi_index(self) -> MultiIndex:
        """The chunk tables, (re)built from the flat index when missing or stale."""
        if self._mih is None or self._mih.stale:
            n = int(self._hashes.ntotal)
            inner: Any = faiss.downcast_IndexBinary(self._hashes.index)
            codes = faiss.vector_to_array(inner.xb).reshape(n, _HASH_BITS // 8)
            ids = faiss.vector_to_array(self._hashes.id_map).astype(np.int64)
            self._mih = MultiIndex(as_u64(codes), ids)
        return self._mih

    def vote(
        self, descriptors: npt.NDArray[np.uint8], *, k: int, max_distance: int
    ) -> dict[str, int]:
        """Votes per work: query descriptors with a neighbour of that work within
        ``max_distance`` among their ``k`` nearest (each descriptor votes once per work)."""
        return {
            w: len(rows)
            for w, rows in self.voters(descriptors, k=k, max_distance=max_distance).items()
        }

    def voters(
        self, descriptors: npt.NDArray[np.uint8], *, k: int, max_distance: int
    ) -> dict[str, list[int]]:
        """Like :meth:`vote`, but the rows of ``descriptors`` that voted for each work."""
        pairs = self.vote_pairs(descriptors, k=k, max_distance=max_distance)
        return {w: p.voters() for w, p in pairs.items()}

    def vote_pairs(
        self, descriptors: npt.NDArray[np.uint8], *, k: int, max_distance: int
    ) -> dict[str, VotePairs]:
        """Every (query row, work descriptor row) neighbour pair within ``max_distance``
        among each row's ``k`` nearest, grouped by work."""
        if len(descriptors) == 0 or self._descs.ntotal == 0:
            return {}
        dist, ids = self._descs.search(np.ascontiguousarray(descriptors), k)
        q, j = np.nonzero((ids >= 0) & (dist <= max_distance))
        found = ids[q, j]
        slots = found >> _SHIFT
        order = np.lexsort((j, q, slots))  # by slot, then query row, then rank
        q, found, slots = q[order], found[order], slots[order]
        d = dist[q, j[order]].astype(np.int32)
        out: dict[str, VotePairs] = {}
        if len(slots) == 0:
            return out
        starts = np.flatnonzero(np.r_[True, slots[1:] != slots[:-1]])
        ends = np.r_[starts[1:], len(slots)]
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            work = self._slots[int(slots[a])]
            if work is not None:
                out[work] = VotePairs(
                    query_rows=q[a:b].astype(np.intp),
                    work_rows=(found[a:b] & ((1 << _SHIFT) - 1)).astype(np.intp),
                    distances=d[a:b],
                )
        return out

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
        # training to seconds), trained on 40 codes per list (FAISS asks for >= 39). 2
        # sqrt(n), the least comparisons per query descriptor at nprobe 4, made a rebuild
        # at 10^4 works take minutes instead of seconds (assigning every code to a list).
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
        self._mapped = False
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
        """Write the index to one file, atomically and durably
        (:func:`copyseal.files.publish_stream`; an existing file is replaced).

        The file ends with the SHA-256 of everything before it, which :meth:`load` checks
        (the layout: :mod:`copyseal.match._index_file`).
        """
        header = {
            "slots": self._slots,
            "ivf": self._is_ivf,
            "trained_at": self._trained_at,
            "ivf_threshold": self.ivf_threshold,
            "nprobe": self.nprobe,
        }
        write_index_file(Path(path), header, self._hashes, self._descs)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Self:
        """Read a file written by :meth:`save`.

        An inverted file is mapped from the file rather than copied into memory, so that
        processes loading the same file share its pages; the first :meth:`add` or
        :meth:`remove` copies it into memory.

        Raises:
            MatchError: The file is missing, truncated, altered (checksum) or not an index.
        """
        header, hashes, descs, mapped = read_index_file(Path(path))
        try:
            options = {
                "ivf_threshold": int(header["ivf_threshold"]),
                "nprobe": int(header["nprobe"]),
            }
            slots = [None if w is None else str(w) for w in header["slots"]]
            is_ivf, trained_at = bool(header["ivf"]), int(header.get("trained_at", 0))
        except (ValueError, KeyError, TypeError) as e:
            raise MatchError(f"corrupt match index {path}: {e}") from e
        index = cls(**options)
        index._hashes = hashes
        index._descs = descs
        index._mapped = mapped
        index._is_ivf = is_ivf
        index._trained_at = trained_at
        if index._is_ivf:
            ivf: Any = faiss.downcast_IndexBinary(descs)
            ivf.nprobe = index.nprobe
        index._slots = slots
        index._slot_of = {w: i for i, w in enumerate(index._slots) if w is not None}
        return index
