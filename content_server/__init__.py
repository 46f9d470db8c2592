"""Content server: signage back end, advertiser/operator portal and kiosk back end."""
