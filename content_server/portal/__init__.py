"""The web portal for advertisers, operators, clerks and providers: server-rendered pages
(Jinja2), a little plain JavaScript, Chinese by default with an English switch.

Wired into the app by :func:`content_server.portal.web.register`.
"""
