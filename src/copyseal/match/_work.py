"""What the matcher takes from a work when it is registered (:func:`fingerprint`) and what
its colour check reads from the work's original (:func:`work_colour`)."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from copyseal.errors import MatchError
from copyseal.match import _colour
from copyseal.match._features import resize_to, to_grey, window_hashes, work_features
from copyseal.match.config import MatchConfig
from copyseal.match.decode import DecodedImage
from copyseal.match.fingerprint import WindowHash, WorkFingerprint

#: Window corners are stored in units of 1/10000 of the working frame (``WindowHash``).
WINDOW_UNITS = 10_000


def fingerprint(image: DecodedImage, *, config: MatchConfig) -> WorkFingerprint:
    """Compute the fingerprint of a work (its first frame).

    Args:
        image: The decoded work.
        config: Sizes and feature counts (``work_side``, ``work_features``, ...).
    """
    grey, _ = resize_to(to_grey(image.rgb), config.work_side)
    # A small work's keypoints come from it enlarged to ``work_min_side`` (as a small
    # query is enlarged to ``query_min_side``); its hashes from the pixels it has, and its
    # thumbnail enlarged to ``thumb_min_side`` so that a small part of it still spans
    # tiles enough for the photometric check.
    big, enlarged = resize_to(grey, config.work_side, min_side=config.work_min_side)
    h, w = big.shape
    feats = work_features(big, config, scale=enlarged)
    hashes = []
    gh, gw = grey.shape
    for (x0, y0, x1, y1), hsh in window_hashes(grey, config.hash_windows):
        window = (
            x0 * WINDOW_UNITS // gw,
            y0 * WINDOW_UNITS // gh,
            x1 * WINDOW_UNITS // gw,
            y1 * WINDOW_UNITS // gh,
        )
        hashes.append(WindowHash(window=window, hash=hsh))
    thumb, _ = resize_to(grey, config.thumb_side, min_side=config.thumb_min_side)
    ok, png = cv2.imencode(".png", thumb, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:
        raise MatchError("could not encode the fingerprint thumbnail")
    return WorkFingerprint(
        width=image.width,
        height=image.height,
        work_size=(w, h),
        hashes=tuple(hashes),
        points=feats.points,
        descriptors=feats.descriptors,
        thumbnail_png=png.tobytes(),
    )


def work_colour(image: DecodedImage, fp: WorkFingerprint) -> npt.NDArray[np.float32]:
    """The colours of a work (its first frame) for :class:`ColourSource`: CIELAB chroma at
    the size of its fingerprint's thumbnail, so that the match's alignment applies."""
    th, tw = fp.thumbnail.shape[:2]
    return _colour.chroma(image.rgb, (tw, th))
