"""A worker killed with SIGKILL while it seals a claimed page: the worker that takes the
claim over (its lease expired) finishes what the dead one left, and the page ends with
exactly one bundle, one bundle record and one ledger entry (SQLite and PostgreSQL).

The kill is real (a child ``copyseal worker`` process sends itself SIGKILL) and lands at a
chosen step of the seal: after the ledger append and before the bundle folder is renamed
into place, after the rename and before the bundle's record, or after the record and
before the claim is marked done. The claim is taken over well inside the 60 s a staging
folder stays untouched for other readers (the default lease is 30 s).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import bagit
import pytest
import sqlalchemy as sa
from pipeline_bench import FAST

from copyseal import times
from copyseal.bundle import verify_bundle
from copyseal.config import load_settings
from copyseal.crawl import FrontierEntry, JobSpec
from copyseal.crawl._store import JobStore
from copyseal.crawl.distributed import enqueue_job, mark_seeded
from copyseal.db.schema.bundle import EvidenceBundle
from copyseal.db.schema.crawl import CrawlMatch
from copyseal.db.schema.distributed import CrawlWorker, SealTask
from copyseal.ledger.statements import EVIDENCE_BUNDLE
from copyseal.pipeline import ChildLaunch
from copyseal.pipeline._records import STALE_STAGING
from copyseal.pipeline._worker import Worker
from copyseal.registry import register_paths
from copyseal.storage import Area
from copyseal.workspace import Workspace
from integration.crawl_site import Site

pytestmark = pytest.mark.usefixtures("clean_env")

#: Where the child worker dies: the function it was about to call is replaced by SIGKILL.
KILL_AT = {
    # after the ledger append, before the bundle folder is renamed into place
    "publish": ("copyseal.bundle.writer", "publish_dir"),
    # after the rename, before the bundle's database record
    "record": ("copyseal.pipeline._seal", "record_bundle"),
    # after the record, before the claim is marked done
    "done": ("copyseal.pipeline._claims", "SealClaims.done"),
}

_CHILD = """
import os, signal, sys
from pathlib import Path
from importlib import import_module
from copyseal.config import load_settings
from copyseal.pipeline import ChildLaunch
from copyseal.pipeline._worker import Worker
from copyseal.workspace import Workspace

config, module, name, overrides = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]

def killed(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

owner = import_module(module)
*path, attr = name.split(".")
for part in path:
    owner = getattr(owner, part)
setattr(owner, attr, killed)
ws = Workspace.open(load_settings(Path(config), overrides=overrides, env={}))
worker = Worker(ws, launch=ChildLaunch(config_path=None), on_event=print)
worker.frontier.register()
print("handled", worker._seal_step())
"""


def _job_with_a_match(ws: Workspace, site: Site, works: dict[str, bytes], tmp: Path) -> str:
    """A distributed job whose gallery page is done, with one match to seal."""
    photo = tmp / "astronaut.jpg"
    photo.write_bytes(works["astronaut"])
    [work] = list(register_paths(ws, [photo]))
    page, image = site.base + "/", site.base + "/img/astronaut.jpg"
    spec = JobSpec(target="cli", urls=(page,), allow_private=True)
    job = enqueue_job(ws.engine, spec, capture=True)
    store = JobStore(ws.engine)
    store.add_pages(job, [FrontierEntry(url=page, kind="page", depth=0)], max_pages=9)
    mark_seeded(ws.engine, job)
    store.record_image(
        job,
        page_url=page,
        image_url=image,
        sha256="00".ljust(64, "0"),
        size=len(works["astronaut"]),
        fmt="JPEG",
        status="ok",
        reason=None,
        outcome=[{"work_id": work.work_id, "score": 1.0}],  # type: ignore[union-attr]
        location={},
    )
    store.finish_page(job, page, status="done", http_status=200)
    return job


def _evidence(ws: Workspace) -> tuple[list[str], list[tuple[str, int]], list[int]]:
    """The bundles folder's entries, the bundle records and the ledger's evidence entries."""
    folder = ws.store.folder(Area.BUNDLES)
    names = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    with ws.engine.connect() as conn:
        rows = conn.execute(sa.select(EvidenceBundle.bundle_id, EvidenceBundle.ledger_index))
        records = sorted((b, int(i)) for b, i in rows)
        entries = sorted(
            int(i)
            for (i,) in conn.execute(
                sa.text("select leaf_index from ledger_entries where entry_type = :t"),
                {"t": EVIDENCE_BUNDLE},
            )
        )
    return names, records, entries


@pytest.mark.parametrize("point", sorted(KILL_AT))
def test_a_worker_killed_mid_seal_leaves_one_bundle_and_one_entry(
    point: str,
    workspace: Workspace,
    gallery: tuple[Site, dict[str, bytes]],
    tmp_path: Path,
) -> None:
    site, works = gallery
    config = tmp_path / "ws" / "config.yaml"
    # The claim is free again before the dead worker's staging folder looks abandoned.
    assert workspace.settings.distributed.lease_seconds < STALE_STAGING
    job = _job_with_a_match(workspace, site, works, tmp_path)
    module, name = KILL_AT[point]
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(config), module, name, *FAST],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stdout + child.stderr
    names, records, entries = _evidence(workspace)
    assert len(entries) == 1  # the dead worker's manifest is logged
    if point == "publish":
        assert records == [] and len(names) == 1 and ".partial-" in names[0]
    elif point == "record":
        assert records == [] and len(names) == 1 and not names[0].startswith(".")
    else:
        assert len(records) == 1

    # Its heartbeat stops: once its lease is over, its claim is free.
    with workspace.engine.begin() as conn:
        lease = timedelta(seconds=workspace.settings.distributed.lease_seconds)
        conn.execute(sa.update(CrawlWorker).values(seen_at=times.now() - lease * 2))
    settings = load_settings(config, overrides=FAST, env={})
    ws = Workspace.open(settings)
    try:
        taker = Worker(ws, launch=ChildLaunch(config_path=None), on_event=lambda _: None)
        taker.frontier.register()
        assert taker._seal_step() == 1  # it took the dead worker's claim
        assert taker.claims.claim() is None
    finally:
        ws.close()

    names, records, entries = _evidence(workspace)
    assert len(records) == 1 and [r[1] for r in records] == entries, (records, entries)
    [(bundle_id, _index)] = records
    assert names == [bundle_id]  # no second bundle, nothing left staged
    path = workspace.store.path(Area.BUNDLES, bundle_id)
    bagit.Bag(str(path)).validate()
    assert verify_bundle(path, vkey=workspace.ledger().vkey()).ok
    with workspace.engine.connect() as conn:
        linked = conn.execute(sa.select(CrawlMatch.bundle_id).where(CrawlMatch.job_id == job))
        assert [b for (b,) in linked] == [bundle_id]
        states = conn.execute(sa.select(SealTask.state, SealTask.attempts)).all()
    assert [tuple(s) for s in states] == [("done", 2)]


class _Killed(BaseException):
    """Stands for SIGKILL: write_bundle handles errors, and nothing after this runs."""


def _staged(ws: Workspace, monkeypatch: pytest.MonkeyPatch, *, job: str, url: str) -> Path:
    """A bundle of ``url`` logged in the ledger and left in its staging folder."""
    from datetime import UTC, datetime

    from copyseal.bundle import EvidenceFile, writer

    def killed(*args: object, **kwargs: object) -> None:
        raise _Killed

    root = ws.store.folder(Area.BUNDLES)
    before = set(root.iterdir()) if root.is_dir() else set()
    with monkeypatch.context() as m:
        m.setattr(writer, "publish_dir", killed)
        with pytest.raises(_Killed):
            writer.write_bundle(
                root=root,
                url=url,
                captured_at=datetime.now(UTC),
                files=[EvidenceFile(name="page.html", media_type="text/html", data=b"<p>")],
                match=None,
                capture={"job_id": job},
                signing_key=ws.signing_key(),
                ledger=ws.ledger(),
            )
    [staging] = set(root.iterdir()) - before
    return staging


def test_only_the_taken_over_pages_recent_staged_bundle_is_completed(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from copyseal.pipeline._records import complete_staged_bundles

    mine = _staged(workspace, monkeypatch, job="j1", url="http://a/1")
    other = _staged(workspace, monkeypatch, job="j1", url="http://a/2")
    same_url = _staged(workspace, monkeypatch, job="j2", url="http://a/1")
    # Recent folders may still be written: a plain scan leaves them alone.
    assert complete_staged_bundles(workspace) == []
    done = complete_staged_bundles(workspace, page=("j1", "http://a/1"))
    assert len(done) == 1 and not mine.exists()
    assert (workspace.store.path(Area.BUNDLES, done[0]) / "manifest.json").is_file()
    assert other.is_dir() and same_url.is_dir()  # other pages: another writer may be at work
    # Once stale, any scan completes them (what a single-process crawl does on resume).
    assert len(complete_staged_bundles(workspace, stale_after=0)) == 2
    names = [p.name for p in workspace.store.folder(Area.BUNDLES).iterdir()]
    assert len(names) == 3 and not any(n.startswith(".") for n in names)


def test_two_completers_of_one_staged_bundle_never_share_its_folder(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from copyseal.pipeline._records import _take

    staging = _staged(workspace, monkeypatch, job="j1", url="http://a/1")
    ledger = workspace.ledger()
    first = _take(staging, ledger)
    assert first is not None and first.is_dir() and ".partial-" in first.name
    assert _take(staging, ledger) is None  # the second finds nothing: the first completes it
    assert first.name.startswith(staging.name.split(".partial-")[0] + ".partial-")


def test_a_staging_folder_the_ledger_has_not_logged_is_never_taken(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its writer may be alive between its signature and its append: moving the folder
    then would leave that writer logging files it never synced."""
    from copyseal.ledger import Ledger
    from copyseal.pipeline._records import _take, complete_staged_bundles

    def unlogged(*args: object, **kwargs: object) -> None:
        raise _Killed  # stands for the moment just before the append

    with monkeypatch.context() as m:
        m.setattr(Ledger, "append", unlogged)
        staging = _staged(workspace, m, job="j1", url="http://a/2")
    assert (staging / "manifest.json.sig").is_file()  # signed, not logged
    assert workspace.ledger().size() == 0
    assert _take(staging, workspace.ledger()) is None
    assert staging.is_dir()  # left where its writer put it
    assert complete_staged_bundles(workspace, stale_after=0.0, page=("j1", "http://a/2")) == []
    assert staging.is_dir()
