"""Business logic as plain functions over a SQLAlchemy session; routes and the portal call these."""
