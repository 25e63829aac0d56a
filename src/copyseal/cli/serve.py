"""``copyseal serve``: the review web app on localhost."""

from __future__ import annotations

import click

from copyseal.cli._common import App, pass_app, stderr_console

__all__ = ["serve"]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@pass_app
def serve(app: App, host: str, port: int) -> None:
    """Serve the review app (queue, decisions, cases, exports and the JSON API).

    Listens on localhost by default; put it behind an HTTPS reverse proxy to expose it.
    Create the first account with 'copyseal users add NAME --role admin'.
    """
    import uvicorn

    from copyseal.review.users import list_users
    from copyseal.web import create_app

    ws = app.workspace()
    web = create_app(ws)
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
    uvicorn.run(web, host=host, port=port, log_level="warning", access_log=False)
