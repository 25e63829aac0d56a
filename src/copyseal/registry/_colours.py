"""The works' colours for the matcher, read from their kept originals.

Fingerprints are greyscale; the matcher's colour check of matches resting on outlines
(``match.engine.weak_colour``) needs the work's colours, which :class:`OriginalColours`
computes from the original the workspace keeps for each work (``works/<sha256>`` in the
evidence store), only when such a match is about to be reported: a few in a thousand
crawled images. The last ``cache_size`` are kept (~100 kB each).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from copyseal.db.models import Work
from copyseal.errors import CopysealError
from copyseal.match import FingerprintStore, MatchConfig, decode, work_colour
from copyseal.storage import Area, EvidenceStore

log = logging.getLogger(__name__)


class OriginalColours:
    """A :class:`~copyseal.match.ColourSource` over the workspace's kept originals.

    A work whose original is gone or cannot be decoded has no colour (None, kept): the
    check is then not made for it, and a warning says why. Other read or database errors
    give None for that call only. Thread-safe.
    """

    def __init__(
        self,
        *,
        engine: Engine,
        store: EvidenceStore,
        fingerprints: FingerprintStore,
        config: MatchConfig,
        cache_size: int = 64,
    ) -> None:
        self._engine = engine
        self._store = store
        self._fingerprints = fingerprints
        self._config = config
        self._size = cache_size
        self._cache: OrderedDict[str, npt.NDArray[np.float32] | None] = OrderedDict()
        self._lock = threading.Lock()

    def colour(self, work_id: str) -> npt.NDArray[np.float32] | None:
        with self._lock:
            if work_id in self._cache:
                self._cache.move_to_end(work_id)
                return self._cache[work_id]
        try:
            found = self._read(work_id)
        except (OSError, SQLAlchemyError) as e:
            # Perhaps passing (a file system or database hiccup): not kept, asked again.
            log.warning("work %s: no colours for the matcher's colour check (%s)", work_id, e)
            return None
        with self._lock:
            self._cache[work_id] = found
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return found

    def _read(self, work_id: str) -> npt.NDArray[np.float32] | None:
        """The work's colours; None (kept) when it has none to give: not indexed, its
        original gone or not an image."""
        with self._engine.connect() as conn:
            sha256 = conn.execute(
                select(Work.sha256).where(Work.work_id == work_id)
            ).scalar_one_or_none()
        if sha256 is None:
            return None
        try:
            fp = self._fingerprints.get(work_id)
            path = self._store.path(Area.WORKS, str(sha256))
            image = decode(
                path.read_bytes(),
                max_pixels=self._config.max_pixels,
                max_frames=1,
                name=f"original of work {work_id}",
                reduce_to=self._config.decode_side or None,
            )
        except KeyError:
            return None  # not indexed (removed since the matcher was built)
        except (FileNotFoundError, CopysealError) as e:
            log.warning("work %s: no colours for the matcher's colour check (%s)", work_id, e)
            return None
        return work_colour(image, fp)
