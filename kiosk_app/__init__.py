"""Touch kiosk: community services, QR payment and case progress for residents."""
