"""Errors of the update repository: each a client mistake (4xx) with a message that says what to fix."""

from content_server.core.errors import Conflict, Invalid


class KeyFileError(Invalid):
    """A key file is missing, unreadable, of the wrong type, or would be overwritten."""


class MetadataRejected(Invalid):
    """Uploaded metadata does not verify, has the wrong version, or has expired."""


class ReleaseConflict(Conflict):
    """A release or wheel of that name exists already with other bytes."""
