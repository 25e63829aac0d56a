# pragma version 0.4.3
"""
@title copyseal licence market
@notice An author offers a licence for a work (the work's SHA-256) at a price in wei for a
        duration; a buyer pays exactly the price and the author receives it in the same
        transaction. The contract keeps no funds.
@dev Push payment with revert: `buy` forwards the price to the author with `send`-like
     `raw_call` and reverts the whole sale if the author's address refuses it, so the buyer
     keeps the money. The author is paid at once; an author whose address rejects payment
     blocks only sales of their own offers. Checks-effects-interactions and
     `@nonreentrant` keep a re-entering author from buying twice with one payment.
"""

event OfferMade:
    offer_id: indexed(uint256)
    work: indexed(bytes32)
    author: address
    price_wei: uint256
    duration_s: uint64
    terms_hash: bytes32


event OfferWithdrawn:
    offer_id: indexed(uint256)
    work: indexed(bytes32)


event LicenceSold:
    offer_id: indexed(uint256)
    work: indexed(bytes32)
    buyer: address
    licensee: bytes32
    price_wei: uint256
    valid_until: uint64


struct Offer:
    author: address
    work: bytes32
    price_wei: uint256
    duration_s: uint64
    terms_hash: bytes32
    active: bool


offers: public(HashMap[uint256, Offer])
offer_count: public(uint256)


@external
def offer(work: bytes32, price_wei: uint256, duration_s: uint64, terms_hash: bytes32) -> uint256:
    """
    @notice List a licence for `work` under the caller's address; returns the offer's id
            (ids start at 1 and increase).
    """
    assert price_wei > 0, "price is zero"
    assert duration_s > 0, "duration is zero"
    offer_id: uint256 = self.offer_count + 1
    self.offer_count = offer_id
    self.offers[offer_id] = Offer(
        author=msg.sender,
        work=work,
        price_wei=price_wei,
        duration_s=duration_s,
        terms_hash=terms_hash,
        active=True,
    )
    log OfferMade(
        offer_id=offer_id,
        work=work,
        author=msg.sender,
        price_wei=price_wei,
        duration_s=duration_s,
        terms_hash=terms_hash,
    )
    return offer_id


@external
def withdraw(offer_id: uint256):
    """
    @notice Withdraw an active offer; only its author may.
    """
    item: Offer = self.offers[offer_id]
    assert item.active, "no such active offer"
    assert item.author == msg.sender, "not the offer's author"
    self.offers[offer_id].active = False
    log OfferWithdrawn(offer_id=offer_id, work=item.work)


@external
@payable
@nonreentrant
def buy(offer_id: uint256, licensee: bytes32):
    """
    @notice Buy a licence of offer `offer_id` for `licensee` (keccak256 of the buyer's
            licensee claim); `msg.value` must be exactly the price, which the author
            receives in this transaction.
    """
    item: Offer = self.offers[offer_id]
    assert item.active, "no such active offer"
    assert msg.value == item.price_wei, "value is not the price"
    valid_until: uint64 = convert(block.timestamp, uint64) + item.duration_s
    log LicenceSold(
        offer_id=offer_id,
        work=item.work,
        buyer=msg.sender,
        licensee=licensee,
        price_wei=item.price_wei,
        valid_until=valid_until,
    )
    # The interaction comes last; a refusal (or a failed re-entry) reverts the sale.
    raw_call(item.author, b"", value=msg.value, revert_on_failure=True)
