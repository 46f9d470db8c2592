"""The web portal's shared shell: every feature's pages stand in it.

Server-rendered pages (Jinja2) with a little plain JavaScript, Chinese by default with an English
switch. The shell holds what pages of several features share: the base templates, static files,
the one translation table (``i18n.py``), the page helpers (``page.py``: language, user, CSRF,
rendering; ``forms.py``: field parsing; ``svg.py``: charts and timelines) and the HTML error
pages (``shell.py``). It knows no feature: each feature's ``pages`` adds its router, templates
and navigation links through :func:`content_server.portal.shell.add_pages`.
"""
