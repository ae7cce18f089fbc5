"""The web app: creators, AI developers and admins in a browser, beside the HTTP API.

A face, like ``cli`` and ``api``: every page parses a form, calls the same
public library function the command line calls (``registry``, ``licensing``,
``scan``, ``reports``, ``signals.publish``) and renders the answer with a
Jinja2 template. Nothing here decides anything the library does not.

``mount_web(app, settings, store)`` adds the pages to a FastAPI app; the
process app that ``clearance serve`` runs is the API's ``create_app`` with
the web mounted on it (``clearance.cli.webapp``), so both share one registry
store and one process. Pages are server-rendered; JavaScript only enhances
(drag-and-drop upload with progress, scan progress through htmx), and every
asset is vendored under ``static/``: no build step, no CDN. See docs/web.md.
"""

from clearance.web.app import mount_web

__all__ = ["mount_web"]
