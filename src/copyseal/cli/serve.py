"""``copyseal serve``: the review web app on localhost."""

from __future__ import annotations

import click

from copyseal.cli._common import App, pass_app, stderr_console

__all__ = ["serve"]


def _trusted_proxies(value: str) -> tuple[str, ...]:
    """The flag's value checked as the config key ``web.forwarded_allow_ips`` is."""
    from pydantic import ValidationError

    from copyseal.config import WebSettings

    try:
        return WebSettings.model_validate({"forwarded_allow_ips": value}).forwarded_allow_ips
    except ValidationError as e:
        reason = e.errors()[0]["msg"].removeprefix("Value error, ")
        raise click.BadParameter(reason, param_hint="--forwarded-allow-ips") from e


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--forwarded-allow-ips",
    "forwarded",
    metavar="IPS",
    default=None,
    help="Proxies trusted to set X-Forwarded-For/-Proto: comma-separated addresses or CIDR"
    " networks, '*' for any (default: web.forwarded_allow_ips, empty: none).",
)
@pass_app
def serve(app: App, host: str, port: int, forwarded: str | None) -> None:
    """Serve the review app (queue, decisions, cases, exports and the JSON API).

    Listens on localhost by default; put it behind an HTTPS reverse proxy to expose it
    (and name the proxy with --forwarded-allow-ips). Create the first account with
    'copyseal users add NAME --role admin'.
    """
    import uvicorn

    from copyseal.review.users import list_users
    from copyseal.web import create_app, server_config

    trusted = None if forwarded is None else _trusted_proxies(forwarded)
    ws = app.workspace()
    web = create_app(ws, forwarded_allow_ips=trusted)
    console = stderr_console()
    if not list_users(ws):
        console.print(
            "[yellow]note[/yellow]: no account yet; create one with"
            " 'copyseal users add NAME --role admin'"
        )
    if host not in {"127.0.0.1", "localhost", "::1"}:
        console.print(
            f"[yellow]note[/yellow]: listening on {host}; use HTTPS in front of it so the"
            " session cookie is marked Secure"
        )
    console.print(f"copyseal review app on http://{host}:{port}/")
    uvicorn.Server(server_config(web, host=host, port=port)).run()
