"""Qt widgets of the kiosk: they show :class:`~kiosk_app.flow.KioskState` and forward touches."""
