"""Software updates on the device (player and kiosk): TUF-verified releases, versioned installs, rollback.

``state`` is the pure state machine; ``journal`` stores it crash-safely; ``layout`` names the
directories and switches the ``current``/``good`` links atomically; ``fetch`` is the TUF client;
``installer`` makes one virtual environment per version; ``agent`` runs an update inside the app;
``guard`` starts the app, enforces the health gate and rolls back; ``stick`` updates from USB.
No Qt here: the guard must start even when the app cannot.
"""
