"""The licence registry's public names (what the CLI, the crawl, the review app and the
market import)."""

from __future__ import annotations

import copyseal.licences


def test_public_api() -> None:
    assert copyseal.licences.__all__ == [
        "LicenceError",
        "LicenceIndex",
        "LicenceRecord",
        "Verdict",
        "classify",
        "get",
        "grant",
        "import_sale",
        "instant",
        "list_licences",
        "load_index",
        "revoke",
        "settle_job",
    ]
    assert issubclass(copyseal.licences.LicenceError, copyseal.CopysealError)
