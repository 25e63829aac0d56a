"""The text of a notice, per kind: the elements each legal framework requires, in order.

- ``dmca``: a notification of claimed infringement under the US Digital Millennium
  Copyright Act, 17 U.S.C. §512(c)(3)(A)(i)-(vi): signature, identification of the
  work(s), identification and location of the infringing material, contact information,
  the good-faith belief statement, and the statement of accuracy and, under penalty of
  perjury, of authority to act for the owner.
- ``eu-dsa``: a notice under the EU Digital Services Act, Regulation (EU) 2022/2065,
  art. 16(2)(a)-(d): a substantiated explanation of why the content is illegal, its exact
  electronic location (URLs), the notifier's name and email address, and the statement of
  bona fide belief that the notice is accurate and complete.
- ``generic``: a plain takedown request with the same facts, for hosts outside both.

Each element is a numbered heading that names its legal source, so a reader (and a test)
can find it. The texts follow the wording of the provisions; they are not legal advice.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from datetime import datetime

from copyseal.notices._facts import NoticeFacts
from copyseal.notices.sender import Sender
from copyseal.times import utc

__all__ = ["KINDS", "render"]

_WIDTH = 78


def _when(value: datetime | None) -> str:
    return "-" if value is None else utc(value).strftime("%Y-%m-%d %H:%M:%S UTC")


def _wrap(text: str, indent: str = "", *, then: str | None = None) -> str:
    return textwrap.fill(
        text,
        _WIDTH,
        initial_indent=indent,
        subsequent_indent=indent if then is None else then,
        break_long_words=False,
        break_on_hyphens=False,
    )


def _on_behalf(facts: NoticeFacts, sender: Sender) -> str:
    return sender.on_behalf_of or ", ".join(facts.owners)


def _works(facts: NoticeFacts) -> str:
    lines = []
    for w in facts.works:
        registered = (
            f"registered in the copyseal ledger {facts.origin} at entry {w.ledger_index}"
            f" on {_when(w.registered_at)} (receipt in the appendix)"
            if w.ledger_index is not None
            else f"registered on {_when(w.registered_at)}"
        )
        lines.append(
            _wrap(
                f'- "{w.title}" (work {w.work_id}), owned by {w.owner}; SHA-256 of the'
                f" original file {w.original_sha256}; {registered}.",
                "  ",
                then="    ",
            )
        )
    return "\n".join(lines)


def _uses(facts: NoticeFacts) -> str:
    titles = {w.work_id: w.title for w in facts.works}
    blocks = []
    for n, u in enumerate(facts.uses, start=1):
        block = [
            f"  {n}. Image URL: {u.image_url}",
            f"     shown on page: {u.page_url}",
            f'     copy of: "{titles.get(u.work_id, u.work_id)}" (work {u.work_id})',
            f"     captured: {_when(u.captured_at)}, sealed in evidence bundle {u.bundle_id}",
            f"     bundle manifest SHA-256: {u.manifest_sha256}",
            f"     ledger entry of the capture: {u.bundle_ledger_index}",
        ]
        if u.last_seen is not None and u.last_seen > u.captured_at:
            block.append(f"     still in use when last visited: {_when(u.last_seen)}")
        if u.now_at is not None:
            page, image, seen, bundle = u.now_at
            block.append(f"     now shown on page: {page}")
            if image is not None and image != u.image_url:
                block.append(f"     now at image URL: {image}")
            block.append(
                f"     seen there when visited on {_when(seen)}"
                + (f", sealed in evidence bundle {bundle}" if bundle else "")
            )
        if u.removed_on is not None:
            block.append(
                f"     no longer shown when visited on {_when(u.removed_on)} (removed, or"
                " the page gone); listed for the record"
            )
        blocks.append("\n".join(block))
    return "\n\n".join(blocks)


def _contact(sender: Sender) -> str:
    lines = [f"  Name: {sender.name}"]
    lines += ["  Address: " + sender.address.splitlines()[0]] + [
        "           " + line.strip() for line in sender.address.splitlines()[1:]
    ]
    if sender.phone:
        lines.append(f"  Telephone: {sender.phone}")
    lines.append(f"  Email: {sender.email}")
    return "\n".join(lines)


def _head(title: str, facts: NoticeFacts, sender: Sender, notice_id: str, at: datetime) -> str:
    return "\n".join(
        [
            title,
            "=" * len(title),
            "",
            f"Notice: {notice_id}   Case: {facts.case.case_id}   Date: {_when(at)}",
            f"To: the operator or hosting provider of {', '.join(facts.sites)}",
            f"From: {sender.name} <{sender.email}>, on behalf of {_on_behalf(facts, sender)}",
            "",
        ]
    )


def _section(number: int, heading: str, body: str) -> str:
    return f"{number}. {heading}\n\n{body}\n"


def _appendix(facts: NoticeFacts) -> str:
    parts = [
        "Appendix: registration receipts",
        "-------------------------------",
        "",
        _wrap(
            "Each receipt is a C2SP tlog-proof of the work's registration statement in the"
            f" append-only ledger {facts.origin}; anyone can check it offline with the"
            " ledger's public key ('copyseal verify RECEIPT --vkey KEY'). The evidence"
            " bundles named above can be provided on request and verified the same way."
        ),
        "",
    ]
    for w in facts.works:
        if w.receipt is not None:
            parts += [f"Work {w.work_id} (ledger entry {w.ledger_index}):", w.receipt.rstrip(), ""]
    return "\n".join(parts)


def _dmca(facts: NoticeFacts, sender: Sender, notice_id: str, at: datetime) -> str:
    owner = _on_behalf(facts, sender)
    ref = "17 U.S.C. §512(c)(3)(A)"
    return "\n".join(
        [
            _head(
                "Notification of claimed copyright infringement (17 U.S.C. §512(c)(3))",
                facts,
                sender,
                notice_id,
                at,
            ),
            _wrap(
                "I write to notify you, as the service provider's designated agent, of"
                " material on your service that infringes copyrights of"
                f" {owner}, and to ask you to remove it or disable access to it"
                " expeditiously."
            ),
            "",
            _section(
                1,
                f"Identification of the copyrighted work(s) claimed to be infringed [{ref}(ii)]",
                _works(facts),
            ),
            _section(
                2,
                "Identification of the infringing material and information to locate it"
                f" [{ref}(iii)]",
                _uses(facts),
            ),
            _section(
                3, f"Contact information of the complaining party [{ref}(iv)]", _contact(sender)
            ),
            _section(
                4,
                f"Statement of good faith belief [{ref}(v)]",
                _wrap(
                    "I have a good faith belief that use of the material in the manner"
                    " complained of is not authorized by the copyright owner, its agent, or"
                    " the law.",
                    "  ",
                ),
            ),
            _section(
                5,
                f"Statement of accuracy and authority under penalty of perjury [{ref}(vi)]",
                _wrap(
                    "I state that the information in this notification is accurate, and,"
                    " under penalty of perjury, that I am authorized to act on behalf of"
                    f" {owner}, the owner of an exclusive right that is allegedly infringed.",
                    "  ",
                ),
            ),
            _section(
                6,
                f"Signature [{ref}(i)]",
                f"  {sender.signed}\n  {sender.name}, on behalf of {owner}\n  {_when(at)}",
            ),
            _appendix(facts),
        ]
    )


def _explanation(facts: NoticeFacts, sender: Sender) -> str:
    owner = _on_behalf(facts, sender)
    return _wrap(
        f"The images listed in section 2 are copies of photographs whose copyright belongs"
        f" to {owner} (section 1 identifies each work and its registration). They are"
        " reproduced and made available to the public on your service without the"
        " rights holder's authorisation, which infringes the exclusive rights of"
        " reproduction and of communication to the public (Directive 2001/29/EC, arts. 2"
        " and 3). Each copy was identified by comparing it with the registered original,"
        " confirmed by a person, and the page showing it was captured and sealed in a"
        " signed, time-stamped evidence bundle whose hash is recorded in an append-only"
        " ledger.",
        "  ",
    )


def _eu_dsa(facts: NoticeFacts, sender: Sender, notice_id: str, at: datetime) -> str:
    ref = "Regulation (EU) 2022/2065, art. 16(2)"
    return "\n".join(
        [
            _head(
                "Notice of illegal content (Digital Services Act, Regulation (EU) 2022/2065,"
                " art. 16)",
                facts,
                sender,
                notice_id,
                at,
            ),
            _wrap(
                "This notice concerns content on your hosting service that infringes"
                " copyright. Please remove it or disable access to it, and inform the"
                " notifier of your decision (art. 16(5))."
            ),
            "",
            _section(
                1,
                f"Substantiated explanation of why the content is illegal [{ref}(a)]",
                _explanation(facts, sender) + "\n\n  The works concerned:\n\n" + _works(facts),
            ),
            _section(
                2, f"Exact electronic location of the content (URLs) [{ref}(b)]", _uses(facts)
            ),
            _section(3, f"Name and email address of the notifier [{ref}(c)]", _contact(sender)),
            _section(
                4,
                f"Statement of bona fide belief [{ref}(d)]",
                _wrap(
                    "I confirm my bona fide belief that the information and allegations"
                    " contained in this notice are accurate and complete.",
                    "  ",
                ),
            ),
            f"  {sender.signed}\n  {sender.name}, on behalf of {_on_behalf(facts, sender)}"
            f"\n  {_when(at)}\n",
            _appendix(facts),
        ]
    )


def _generic(facts: NoticeFacts, sender: Sender, notice_id: str, at: datetime) -> str:
    owner = _on_behalf(facts, sender)
    return "\n".join(
        [
            _head(
                "Copyright infringement: request to remove content", facts, sender, notice_id, at
            ),
            _wrap(
                f"Copies of photographs owned by {owner} are shown on your site without"
                " permission. Please remove them or disable access to them."
            ),
            "",
            _section(1, "The works", _works(facts)),
            _section(2, "Where the copies are", _uses(facts)),
            _section(3, "Contact", _contact(sender)),
            _section(
                4,
                "Statements",
                _wrap(
                    "I have a good faith belief that this use of the works is not"
                    " authorized by the copyright owner, its agent, or the law. The"
                    " information in this notice is accurate, and I am authorized to act"
                    f" on behalf of {owner}.",
                    "  ",
                ),
            ),
            f"  {sender.signed}\n  {sender.name}\n  {_when(at)}\n",
            _appendix(facts),
        ]
    )


_Render = Callable[[NoticeFacts, Sender, str, datetime], str]

#: The notice kinds and their writers.
KINDS: dict[str, _Render] = {"dmca": _dmca, "eu-dsa": _eu_dsa, "generic": _generic}


def render(kind: str, facts: NoticeFacts, sender: Sender, notice_id: str, at: datetime) -> str:
    """The notice's text (UTF-8, LF line ends, ending with a newline)."""
    text = KINDS[kind](facts, sender, notice_id, at)
    return text.rstrip("\n") + "\n"
