"""``copyseal capture URL``: preserve a page now, sealed as an evidence bundle."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from copyseal.capture import Capture, CaptureOptions, Target, capture_page_sync
from copyseal.capture.page import new_capture_id
from copyseal.cli._common import App, emit, json_option, network_options, pass_app, stderr_console
from copyseal.config import Settings, load_settings
from copyseal.errors import ConfigError
from copyseal.netpolicy import AddressPolicy
from copyseal.pipeline import SealOutcome, capture_and_seal

__all__ = ["capture"]


def _settings(app: App, out: Path | None) -> Settings:
    """The workspace's settings; with ``--out`` and no configuration file, the defaults."""
    try:
        return app.settings()
    except ConfigError:
        if out is None or (app.config_path is not None and app.config_path.exists()):
            raise
        stderr_console().print("no configuration file: using the default settings")
        return load_settings(None, env={})


def _human(result: Capture, console: Console) -> None:
    table = Table(title=f"capture {result.capture_id}")
    for column in ("file", "role", "size", "sha256"):
        table.add_column(column, no_wrap=column != "role")
    for a in result.artefacts:
        table.add_row(a.path, a.role, f"{a.size:,}", a.sha256)
    console.print(table)
    net = result.facts.get("network", {})
    console.print(f"folder:    {result.folder}")
    console.print(f"final URL: {result.final_url}")
    chain = " -> ".join(str(h["status"]) for h in net.get("redirect_chain", []))
    console.print(f"redirects: {chain}")
    server = net.get("server", {})
    console.print(f"server:    {server.get('ip')}:{server.get('port')}")
    tls = net.get("tls", {})
    console.print(
        f"TLS:       {tls.get('protocol')} {tls.get('cipher') or ''}".rstrip()
        if tls.get("used")
        else "TLS:       none (plain HTTP)"
    )
    console.print(f"time:      {result.timings.get('total', 0):.2f} s")
    for error in result.errors:
        console.print(f"[yellow]note[/yellow] {error}")


@click.command()
@click.argument("url")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Only capture, into a new folder in DIR (no bundle, no workspace needed).",
)
@click.option(
    "--image",
    "images",
    multiple=True,
    metavar="URL",
    help="A matched image to outline and keep (repeatable).",
)
@click.option("--user-agent", default=None, help="User-Agent (default: crawl.user_agent).")
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Load timeout (s).")
@click.option(
    "--settle", type=float, default=10.0, show_default=True, help="Network settle bound (s)."
)
@click.option(
    "--ignore-https-errors",
    is_flag=True,
    help="Capture even if the certificate is not trusted (recorded in the facts).",
)
@click.option("--ntp", "ntp_server", default=None, help="NTP server to measure the clock offset.")
@network_options()
@json_option
@pass_app
def capture(
    app: App,
    url: str,
    out: Path | None,
    images: tuple[str, ...],
    user_agent: str | None,
    timeout: float,
    settle: float,
    ignore_https_errors: bool,
    ntp_server: str | None,
    allow_private: bool,
    allow_networks: tuple[str, ...],
    as_json: bool,
) -> None:
    """Capture URL now and seal it as evidence.

    In a fresh browser context: screenshots, raw and rendered HTML, a WACZ of every request
    and response, network facts and the capture environment, sealed into a signed bundle
    anchored in the ledger (evidence/bundles/). With --out DIR, only the capture folder is
    written there (no workspace needed). Every request of the browser obeys the address
    policy: public addresses only, plus crawl.allow_networks and --allow-network.
    """
    settings = _settings(app, out)
    policy = AddressPolicy.build(
        allow_private=allow_private,
        networks=(*settings.crawl.allow_networks, *allow_networks),
        source="--allow-network / crawl.allow_networks",
    )
    crawl = settings.crawl
    ua = user_agent or crawl.resolved_user_agent()
    options = CaptureOptions(
        viewport=(settings.capture.viewport_width, settings.capture.viewport_height),
        user_agent=ua,
        load_timeout=timeout,
        settle_timeout=settle,
        ignore_https_errors=ignore_https_errors,
        ntp_server=ntp_server or settings.capture.ntp_server,
    )
    if out is None:
        # In a workspace: capture and seal into a signed, anchored evidence bundle.
        outcome = capture_and_seal(
            app.workspace(), url, images=images, options=options, policy=policy
        )
        emit(app, outcome.to_json(), as_json=as_json, human=lambda c: _human_sealed(outcome, c))
        if outcome.error:
            raise click.exceptions.Exit(1)
        return
    capture_id = new_capture_id()
    result = capture_page_sync(
        url,
        out / capture_id,
        targets=[Target(url=i) for i in images],
        options=options,
        executable=crawl.browser_executable,
        settings_digest=settings.digest(),
        capture_id=capture_id,
        policy=policy,
    )
    emit(app, result.to_json(), as_json=as_json, human=lambda c: _human(result, c))


def _human_sealed(outcome: SealOutcome, console: Console) -> None:
    if outcome.bundle is None:
        console.print(f"[red]not captured[/red] {outcome.page_url}: {outcome.error}")
        return
    b = outcome.bundle
    console.print(f"[bold]sealed[/bold] {outcome.page_url}")
    console.print(f"  bundle   {b.path}")
    console.print(f"  manifest sha256 {b.manifest_sha256}")
    console.print(f"  ledger   entry {b.ledger_index} (checkpoint size {b.checkpoint_size})")
    for note in outcome.notes:
        console.print(f"  note     {note}")
    console.print(f"verify:  copyseal verify {b.path}")
