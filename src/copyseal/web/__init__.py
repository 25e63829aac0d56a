"""The review web app (FastAPI, server-rendered Jinja2 pages and a JSON API).

A face over :mod:`copyseal.review` and :mod:`copyseal.export`; the library never
imports it. ``copyseal serve`` runs it with uvicorn.
"""

from copyseal.web.app import create_app, server_config

__all__ = ["create_app", "server_config"]
