"""The copyseal exception hierarchy.

One root, :class:`CopysealError`, and one subclass per stage of the pipeline (the habit of
sigstore-python's ``errors.py``). Library code raises these, converting foreign exceptions
at the border with ``raise ... from e``; only the CLI turns them into a one-line message
and an exit code.
"""

from __future__ import annotations

__all__ = [
    "AnchorError",
    "AnchorVerificationError",
    "BundleError",
    "CaptureError",
    "ConfigError",
    "CopysealError",
    "CrawlError",
    "DecodeError",
    "EvidenceStoreError",
    "ExportError",
    "LedgerError",
    "MatchError",
    "RegistrationError",
    "ReviewError",
    "RevisitError",
    "StorageError",
    "VerificationError",
    "WorkspaceError",
]


class CopysealError(Exception):
    """Root of every error copyseal raises on purpose."""

    #: Process exit code the CLI uses for this kind of error.
    exit_code: int = 1

    def diagnostics(self) -> str:
        """A longer, human-readable explanation (defaults to the message)."""
        return str(self)


class ConfigError(CopysealError):
    """The configuration file, environment or flags are invalid."""

    exit_code = 2


class WorkspaceError(CopysealError):
    """A workspace cannot be created or opened (exists already, missing key, ...)."""


class StorageError(CopysealError):
    """The database cannot be reached, migrated or written."""


class EvidenceStoreError(CopysealError):
    """The evidence store cannot be opened, or a name in it is unsafe or escapes it."""


class RegistrationError(CopysealError):
    """A work cannot be registered."""


class MatchError(CopysealError):
    """The matcher cannot process an image or its index."""


class DecodeError(MatchError):
    """Bytes are not a usable image (corrupt, truncated, too large, unsupported)."""


class CrawlError(CopysealError):
    """A crawl cannot be started, resumed or completed."""


class CaptureError(CopysealError):
    """A page cannot be captured as evidence."""


class RevisitError(CopysealError):
    """Known uses cannot be re-visited: an unknown match or case, a rejected match."""


class BundleError(CopysealError):
    """An evidence bundle cannot be written or read."""


class LedgerError(CopysealError):
    """The ledger cannot be appended to, read or proven from."""


class AnchorError(CopysealError):
    """An anchor cannot be built or cannot anchor a checkpoint (an unknown kind, a
    verify-only anchor asked to anchor, an anchoring service that fails)."""


class ReviewError(CopysealError):
    """A review action cannot be done (bad input, wrong state, no permission)."""


class ExportError(CopysealError):
    """A case cannot be exported (empty, unsealed matches, unsafe names, ...)."""


class VerificationError(CopysealError):
    """A proof, signature, receipt or bundle does not verify.

    A verifier raises nothing else: every malformed input is a failed verification.
    """

    exit_code = 3


class AnchorVerificationError(VerificationError):
    """An anchor proof is malformed, or does not prove the checkpoint it is checked
    against (another log, size or root; a signature by another key)."""
