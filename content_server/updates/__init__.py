"""Software updates: the server's TUF repository of signed releases (The Update Framework).

``metadata`` builds and checks TUF metadata (pure, time passed in); ``keys`` reads and writes
signing keys; ``repository`` keeps the repository on disk (publish offline-signed targets,
re-sign snapshot and timestamp with the server's online keys, rotate root, export a USB bundle);
``cli`` is the operator's offline signing tool (``signage-release``).
"""
