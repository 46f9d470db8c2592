"""The wire formats between the content server and the devices, defined once and imported by both.

``device``: pairing, manifest, assets, heartbeat, proof of play, screenshots, emergency long-poll;
``kiosk``: service catalogue, orders, payments, case look-ups, offline order tokens;
``bundle``: the signed offline bundle a USB stick carries.
"""
