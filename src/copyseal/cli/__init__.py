"""The ``copyseal`` command line: one thin command per user action."""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from pathlib import Path

import click

from copyseal import __version__
from copyseal._modes import restrict_umask
from copyseal.cli._common import App, default_config_path
from copyseal.errors import CopysealError

__all__ = ["cli", "main"]

# One module per user action, imported only when its command runs (so `copyseal works`
# never pays for Scrapy, Playwright or FastAPI). A module that fails to import is a bug,
# not something to hide, so there is no try/except around these.
_COMMANDS = {
    "init": "copyseal.cli.workspace:init",
    "db": "copyseal.cli.workspace:db_group",
    "register": "copyseal.cli.works:register",
    "works": "copyseal.cli.works:works",
    "licences": "copyseal.cli.licences:licences",
    "match": "copyseal.cli.match:match",
    "crawl": "copyseal.cli.crawl:crawl",
    "crawls": "copyseal.cli.crawl:crawls",
    "jobs": "copyseal.cli.crawl:crawls",
    "matches": "copyseal.cli.crawl:matches",
    "schedule": "copyseal.cli.crawl:schedule_group",
    "scheduler": "copyseal.cli.crawl:scheduler",
    "worker": "copyseal.cli.worker:worker",
    "targets": "copyseal.cli.targets:targets",
    "capture": "copyseal.cli.capture:capture",
    "revisit": "copyseal.cli.revisit:revisit",
    "bundles": "copyseal.cli.bundles:bundles",
    "verify": "copyseal.cli.verify:verify",
    "ledger": "copyseal.cli.ledger:ledger",
    "anchors": "copyseal.cli.anchors:anchors",
    "market": "copyseal.cli.market:market",
    "serve": "copyseal.cli.serve:serve",
    "users": "copyseal.cli.users:users",
    "cases": "copyseal.cli.cases:cases",
    "timeline": "copyseal.cli.timeline:timeline",
    "export": "copyseal.cli.export:export",
    "witness": "copyseal.cli.witness:witness",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="copyseal")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Workspace configuration file (default: $COPYSEAL_CONFIG or ./config.yaml).",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a configuration key, e.g. --set database.url=sqlite:///x.db (repeatable).",
)
@click.option("--debug", is_flag=True, help="Show debug logs and tracebacks.")
@click.pass_context
def cli(
    ctx: click.Context, config_path: Path | None, overrides: tuple[str, ...], debug: bool
) -> None:
    """copyseal: find unlicensed copies of your pictures and seal the evidence."""
    ctx.obj = App(
        config_path=config_path or default_config_path(), overrides=overrides, debug=debug
    )
    ctx.call_on_close(ctx.obj.close)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``copyseal`` console script."""
    previous = restrict_umask()  # what copyseal creates is its owner's only (copyseal._modes)
    try:
        _main(argv)
    finally:
        os.umask(previous)  # for in-process callers (tests); a command ends here anyway


def _main(argv: list[str] | None) -> None:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:]) or bool(
        os.environ.get("COPYSEAL_DEBUG")
    )
    try:
        rc = cli.main(args=argv, prog_name="copyseal", standalone_mode=False)
    except CopysealError as e:
        if debug:
            traceback.print_exc()
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    # Without standalone mode click returns a command's Exit code instead of exiting.
    sys.exit(rc if isinstance(rc, int) else 0)
