"""The loopback RFC 3161 TSA of the tests: :mod:`copyseal.loopback.tsa` (``openssl ts
-reply`` under a CA made on the spot), re-exported under the name the tests import."""

from __future__ import annotations

from copyseal.loopback.tsa import POLICY, KeyType, LoopbackTsa, Mode, TsaPki, make_pki, openssl

__all__ = ["POLICY", "KeyType", "LoopbackTsa", "Mode", "TsaPki", "make_pki", "openssl"]
