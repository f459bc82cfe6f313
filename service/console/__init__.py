"""The marketer console (``/console``): server-rendered pages with htmx, behind the admin key.

Wire it with :func:`service.console.web.install` (``install(app, settings)``).
"""

from service.console import web

__all__ = ["web"]
