"""Re-visits of known uses: is the picture still there, changed, moved or gone?

``copyseal revisit`` (and a schedule with ``revisit_matches``) loads each matched page
again, looks for the same work with the workspace's matcher (not by URL: the image may be
renamed, re-encoded or moved on the page), and seals a new bundle for every visit, also
when the work or the page is gone: the absence is evidence too. Each visit is a
``match_visits`` row and a ``continued-use`` ledger statement.

- :func:`revisit`: visit the selected matches (by case, site or id), one
  :class:`VisitResult` each (``to_json()`` is ``copyseal revisit --json``);
- :func:`select_uses`: which matches are followed (not rejected, work still registered);
- :func:`revisit_scheduled`: the visits of a schedule with ``revisit_matches``, run by the
  scheduled job's child process after its crawl (:func:`scheduled_uses` picks them);
- :func:`classify`: the result from the page's state (:class:`PageState`) and where the
  work was seen; :data:`RESULTS` lists them;
- :func:`compare`: the similarity of two copies of a work in the work's frame
  (:data:`CHANGED_BELOW` separates ``present`` from ``changed``).
"""

from copyseal.revisit._classify import RESULTS, PageState, Verdict, classify
from copyseal.revisit._compare import CHANGED_BELOW, Comparison, compare
from copyseal.revisit._select import KnownUse, scheduled_uses, select_uses
from copyseal.revisit._visit import MAX_LINKED_PAGES, VisitResult, revisit, revisit_scheduled

__all__ = [
    "CHANGED_BELOW",
    "MAX_LINKED_PAGES",
    "RESULTS",
    "Comparison",
    "KnownUse",
    "PageState",
    "Verdict",
    "VisitResult",
    "classify",
    "compare",
    "revisit",
    "revisit_scheduled",
    "scheduled_uses",
    "select_uses",
]
