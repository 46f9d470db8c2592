"""Signage player: offline-first playback of a screen's schedule from a verified cache."""

from importlib.metadata import PackageNotFoundError, version

try:
    # one source of truth: the version the release was built with (pyproject.toml)
    __version__ = version("community-signage")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0.0.0"
