"""The marketer console (``/console``): server-rendered pages with htmx, behind the admin key.

Mount it with :func:`service.console.mount.install` (``install(app, settings)``); the pages share
:mod:`service.console.web`.
"""
