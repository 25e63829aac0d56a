"""A transparency-log witness (C2SP ``tlog-witness``) and its cosignatures.

- :mod:`~copyseal.witness.cosignature`: Ed25519 ``cosignature/v1`` lines (C2SP
  ``tlog-cosignature``): making them, verifying them, requiring k of n witnesses. Pure.
- :mod:`~copyseal.witness.protocol`: the ``add-checkpoint`` wire format. Pure.
- :mod:`~copyseal.witness.service`: the witness itself (what it accepts, refuses and
  cosigns); :mod:`~copyseal.witness.store`: its SQLite state;
  :mod:`~copyseal.witness.server`: its HTTP face (``copyseal witness serve``).

Importing this package loads nothing: the client (:mod:`copyseal.anchors.witness`) and
offline verification use the two pure modules only.
"""
