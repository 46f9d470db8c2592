"""What an upload is, from its first bytes (never its name): the one place the server decides it.

The rest of an upload's checking and rebuilding is :mod:`content_server.signage.media_intake`.
"""

from __future__ import annotations


def sniff(head: bytes) -> str | None:
    """MIME type from the first bytes of a file, or None when it is nothing we play."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return "video/quicktime" if brand == b"qt  " else "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    return None
