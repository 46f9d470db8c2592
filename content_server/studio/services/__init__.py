"""Studio services: plain functions over a session; each commits what it changed."""
