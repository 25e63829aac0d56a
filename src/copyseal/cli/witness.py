"""``copyseal witness …``: run a C2SP tlog-witness that cosigns other parties' logs.

``--json`` shapes (public contracts):

- ``vkey``: ``{"name", "vkey", "state"}``

The witness's key (``<state>/witness.key``, mode 0600, created on first start) and its
state (``<state>/witness.sqlite3``) live in the state folder; the key is never printed,
only its public vkey.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from copyseal.cli._common import App, emit, json_option, pass_app
from copyseal.errors import ConfigError, VerificationError

__all__ = ["witness"]

_STATE_HELP = "The witness's folder: its key and state (default: ./witness)."


@click.group()
def witness() -> None:
    """Run a witness (C2SP tlog-witness) that cosigns logs' checkpoints."""


@witness.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=7380, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--state", "state_dir", type=click.Path(path_type=Path, file_okay=False),
    default=Path("witness"), help=_STATE_HELP,
)  # fmt: skip
@click.option(
    "--log", "logs", multiple=True, metavar="ORIGIN=VKEY",
    help="A log to witness: its origin and note vkey (or the vkey alone; repeatable).",
)  # fmt: skip
@click.option("--name", default=None, help="The witness's key name (on first start).")
def serve(host: str, port: int, state_dir: Path, logs: tuple[str, ...], name: str | None) -> None:
    """Serve add-checkpoint for the given logs until interrupted."""
    from copyseal.ledger.note import NoteVerifier
    from copyseal.witness.server import WitnessHTTPServer
    from copyseal.witness.service import open_witness, parse_log_option

    known: dict[str, list[NoteVerifier]] = {}
    for text in logs:
        try:
            origin, key = parse_log_option(text)
        except VerificationError as e:
            raise ConfigError(f"--log {text!r}: {e}") from e
        known.setdefault(origin, []).append(key)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    w = open_witness(state_dir, logs=known, name=name)
    server = WitnessHTTPServer(w, host, port)
    if not known:
        click.echo("note: no --log given; every checkpoint is refused", err=True)
    click.echo(f"witness {w.cosigner.name} on {server.url}", err=True)
    click.echo(f"cosignature vkey: {w.cosigner.vkey}", err=True)  # one line, never wrapped
    for origin in w.origins:
        click.echo(f"witnessing {origin}", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("witness stopped", err=True)
    finally:
        server.server_close()


@witness.command()
@click.option(
    "--state", "state_dir", type=click.Path(path_type=Path, file_okay=False),
    default=Path("witness"), help=_STATE_HELP,
)  # fmt: skip
@click.option("--name", default=None, help="The witness's key name (on first start).")
@json_option
@pass_app
def vkey(app: App, state_dir: Path, name: str | None, as_json: bool) -> None:
    """Print the witness's cosignature vkey (creating its key on first use)."""
    from copyseal.witness.service import open_witness

    w = open_witness(state_dir, logs={}, name=name)
    data = {"name": w.cosigner.name, "vkey": w.cosigner.vkey, "state": str(state_dir)}
    emit(
        app,
        data,
        as_json=as_json,
        human=lambda console: console.print(data["vkey"], soft_wrap=True),
    )
