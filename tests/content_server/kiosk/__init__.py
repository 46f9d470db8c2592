"""Tests of the kiosk back end."""
