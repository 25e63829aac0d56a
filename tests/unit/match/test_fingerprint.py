"""WorkFingerprint: contents, deterministic bytes, round trip, refusal of bad bytes."""

from __future__ import annotations

import numpy as np
import pytest

from copyseal.errors import MatchError
from copyseal.match import DecodedImage, MatchConfig, WorkFingerprint, fingerprint
from copyseal.match.fingerprint import FORMAT_VERSION


def test_contents(fingerprints: dict[str, WorkFingerprint], config: MatchConfig) -> None:
    fp = fingerprints["astronaut"]
    assert (fp.width, fp.height, fp.work_size) == (512, 512, (512, 512))
    assert len(fp.hashes) == 1 + len(config.hash_windows)
    assert fp.hashes[0].window == (0, 0, 10_000, 10_000)
    assert fp.global_hash.hex() == "c2924c5532bddfc8"  # golden, as in test_hashes
    assert len(fp.points) == config.work_features
    assert fp.descriptors.shape == (config.work_features, 32)
    assert max(fp.thumbnail.shape) == config.thumb_side


def test_keypoints_are_spread_over_the_image(fingerprints: dict[str, WorkFingerprint]) -> None:
    fp = fingerprints["coffee"]
    w, h = fp.work_size
    first = fp.points[:64]  # the first round of the grid round-robin
    cells = {(int(x * 8 / w), int(y * 8 / h)) for x, y in first}
    assert len(cells) >= 40


def test_a_small_smooth_work_is_detected_again_at_faint_threshold(
    fingerprints: dict[str, WorkFingerprint], match_photos: dict[str, np.ndarray]
) -> None:
    import skimage.data

    # microaneurysms (102 px, blurred) enlarged to work_min_side: under faint_sparse
    # keypoints at fast_threshold, several times more at faint_threshold.
    small = DecodedImage.from_array(np.repeat(skimage.data.microaneurysms()[:, :, None], 3, 2))
    once = fingerprint(small, config=MatchConfig(faint_sparse=0))
    assert len(once.points) < MatchConfig().faint_sparse
    assert len(fingerprint(small, config=MatchConfig()).points) > 3 * len(once.points)
    # colorwheel (371 px) has as few, but is enlarged less than faint_min_scale times:
    # detected once. So is a textured work.
    for name in ("colorwheel", "chelsea"):
        image = DecodedImage.from_array(match_photos[name])
        assert fingerprint(image, config=MatchConfig(faint_sparse=0)) == fingerprints[name]
    assert len(fingerprints["colorwheel"].points) < MatchConfig().faint_sparse


def test_a_small_work_is_enlarged_for_its_keypoints_only() -> None:
    """microaneurysms (102 px): keypoints from it enlarged to work_min_side, hashes from
    the pixels it has, thumbnail enlarged to thumb_min_side."""
    import skimage.data

    image = DecodedImage.from_array(np.repeat(skimage.data.microaneurysms()[:, :, None], 3, axis=2))
    config = MatchConfig()
    fp = fingerprint(image, config=config)
    as_is = fingerprint(
        image, config=MatchConfig(work_min_side=0, thumb_min_side=0, faint_sparse=0)
    )
    assert (fp.width, fp.height) == (102, 102)
    assert fp.work_size == (config.work_min_side, config.work_min_side)
    assert as_is.work_size == (102, 102)
    assert fp.points.max() < config.work_min_side and fp.points.max() > 102
    assert len(fp.points) > 10 * len(as_is.points)
    assert fp.hashes == as_is.hashes
    assert fp.thumbnail.shape == (config.thumb_min_side, config.thumb_min_side)
    assert as_is.thumbnail.shape == (102, 102)


def test_bytes_round_trip(fingerprints: dict[str, WorkFingerprint]) -> None:
    for fp in fingerprints.values():
        data = fp.to_bytes()
        back = WorkFingerprint.from_bytes(data)
        assert back == fp
        assert back.to_bytes() == data
        assert back.digest() == fp.digest()
        np.testing.assert_array_equal(back.points, fp.points)
        np.testing.assert_array_equal(back.thumbnail, fp.thumbnail)


def test_fingerprint_is_deterministic_and_compact(
    match_photos: dict[str, np.ndarray], config: MatchConfig
) -> None:
    a = fingerprint(DecodedImage.from_array(match_photos["chelsea"]), config=config)
    b = fingerprint(DecodedImage.from_array(match_photos["chelsea"].copy()), config=config)
    assert a.to_bytes() == b.to_bytes()
    assert len(a.digest()) == 64
    assert len(a.to_bytes()) < 120_000


def test_distinct_works_have_distinct_digests(fingerprints: dict[str, WorkFingerprint]) -> None:
    assert len({fp.digest() for fp in fingerprints.values()}) == len(fingerprints)


def test_version_is_in_the_bytes(fingerprints: dict[str, WorkFingerprint]) -> None:
    data = fingerprints["coffee"].to_bytes()
    assert data[:4] == b"CSFP" and int.from_bytes(data[4:6], "little") == FORMAT_VERSION


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: b"XXXX" + d[4:], "bad magic"),
        (lambda d: d[:4] + b"\x63\x00" + d[6:], "format version 99"),
        (lambda d: d[:-10], "length mismatch|buffer"),
        (lambda d: d + b"\x00", "length mismatch"),
        (lambda d: d[:20], "malformed"),
    ],
)
def test_bad_bytes_are_refused(
    fingerprints: dict[str, WorkFingerprint], mutate: object, message: str
) -> None:
    data = fingerprints["coffee"].to_bytes()
    with pytest.raises(MatchError, match=message):
        WorkFingerprint.from_bytes(mutate(data))  # type: ignore[operator]
