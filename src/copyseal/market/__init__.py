"""The licence market: an on-chain offer of a licence for a work, paid to its author at once.

``Market.vy`` (shipped compiled as ``market_contract.json``, same Vyper, EVM version and
loader as the anchor contract) holds offers ``offer(work, price_wei, duration_s,
terms_hash)`` under the author's address; ``buy(offer_id, licensee)`` with exactly the
price forwards the price to the author in the same transaction and emits
``LicenceSold(offer_id, work, buyer, licensee, price_wei, valid_until)``; the contract keeps
no funds. A payment the author's address refuses reverts the sale (push payment with
revert: the author is paid at once, and a refusing author blocks only their own offers).

On the chain ``work`` is the work's SHA-256 and ``licensee`` is ``keccak256`` of the
buyer's canonical claim ``{"domains": [...], "licensee": NAME}``
(:func:`canonical_claim`), which says which sites the licence is for. ``sync`` imports the
sales into the licence registry (:func:`copyseal.licences.import_sale`).
"""

from __future__ import annotations

from copyseal.market._chain import MarketChain, Sale, Sent, read_key
from copyseal.market._claims import NO_CLAIM, canonical_claim, licensee_hash, payment_uri
from copyseal.market._contract import shipped
from copyseal.market._errors import MarketError
from copyseal.market._service import deploy, make_offer, offers, sync, terms_domains, withdraw

__all__ = [
    "NO_CLAIM",
    "MarketChain",
    "MarketError",
    "Sale",
    "Sent",
    "canonical_claim",
    "deploy",
    "licensee_hash",
    "make_offer",
    "offers",
    "payment_uri",
    "read_key",
    "shipped",
    "sync",
    "terms_domains",
    "withdraw",
]
