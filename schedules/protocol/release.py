"""Software releases and update state: the formats the release builder, server and devices share.

A release is the project's own wheel plus every dependency as wheels, described by a
:class:`ReleaseIndex`. In the server's TUF repository (``content_server.updates``) each wheel is
the target ``wheels/<filename>`` and each index the target ``releases/<version>/<platform>.json``;
a wheel file name always names the same bytes (as on PyPI), so a wheel shared by two releases is
one target and a device downloads it once.

:class:`UpdateReport` is what a device says about its updates in each heartbeat. Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import sysconfig
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

RELEASE_FORMAT_VERSION = 1
WHEEL_PREFIX = "wheels/"
RELEASE_PREFIX = "releases/"
# a PEP 440 public version in the forms we build (1.2.3, 1.2.3rc1, 1.2.3.post1, 1.2.3.dev4)
VERSION_RE = re.compile(r"^[0-9]+(\.[0-9]+){0,3}((a|b|rc)[0-9]+)?(\.post[0-9]+)?(\.dev[0-9]+)?$")
WHEEL_NAME_RE = re.compile(r"^[A-Za-z0-9_.+!-]+\.whl$")
PLATFORM_RE = re.compile(r"^[a-z0-9]+-[a-z0-9_]+$")


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WheelRef(_Wire):
    filename: str = Field(pattern=WHEEL_NAME_RE.pattern, max_length=200)
    sha256: str = Field(pattern="^[0-9a-f]{64}$")
    size: int = Field(gt=0)

    @property
    def target_path(self) -> str:
        return WHEEL_PREFIX + self.filename


class ReleaseIndex(_Wire):
    """One release for one platform: install ``package==version`` from exactly these wheels."""

    format_version: int = RELEASE_FORMAT_VERSION
    package: str = Field(pattern="^[A-Za-z0-9_.-]+$", max_length=100)
    version: str = Field(pattern=VERSION_RE.pattern, max_length=64)
    platform: str = Field(pattern=PLATFORM_RE.pattern, max_length=64)
    built_at: dt.datetime
    commit: str | None = Field(None, max_length=64)
    wheels: tuple[WheelRef, ...] = Field(min_length=1)

    @field_validator("wheels")
    @classmethod
    def _unique(cls, wheels: tuple[WheelRef, ...]) -> tuple[WheelRef, ...]:
        names = [w.filename for w in wheels]
        if len(set(names)) != len(names):
            raise ValueError("a wheel is listed twice")
        return wheels

    @property
    def target_path(self) -> str:
        return release_target_path(self.version, self.platform)


def release_target_path(version: str, platform: str) -> str:
    return f"{RELEASE_PREFIX}{version}/{platform}.json"


def platform_key(implementation: str, major: int, minor: int, platform: str) -> str:
    """``cp311-linux_x86_64``: which wheels a device can install (interpreter and machine)."""
    return f"{implementation}{major}{minor}-{platform.replace('-', '_').replace('.', '_')}".lower()


def running_platform() -> str:
    """The platform key of this interpreter (what the release builder and the device compute alike)."""
    impl = {"cpython": "cp", "pypy": "pp"}.get(sys.implementation.name, sys.implementation.name)
    return platform_key(impl, sys.version_info.major, sys.version_info.minor, sysconfig.get_platform())


def version_key(version: str) -> tuple[tuple[int, ...], int, int, int]:
    """Sort key for the versions :data:`VERSION_RE` accepts (dev < pre < final < post)."""
    m = re.match(r"^([0-9.]+?)(?:(a|b|rc)([0-9]+))?(?:\.post([0-9]+))?(?:\.dev([0-9]+))?$", version)
    if m is None:
        raise ValueError(f"not a release version: {version!r}")
    release = tuple(int(p) for p in m.group(1).split("."))
    release = release + (0,) * (4 - len(release))
    pre_rank = {"a": 0, "b": 1, "rc": 2}
    post = int(m.group(4)) if m.group(4) is not None else -1
    dev = int(m.group(5)) if m.group(5) is not None else 10**9
    if m.group(2):
        pre = pre_rank[m.group(2)] * 10**6 + int(m.group(3))
    else:  # 1.0.dev1 comes before 1.0a1; a final or post release after every pre-release
        pre = -1 if m.group(5) is not None and post < 0 else 9 * 10**6
    return release, pre, post, dev


class UpdatePhase(StrEnum):
    IDLE = "idle"
    DOWNLOADING = "downloading"
    INSTALLED = "installed"
    SWITCHED = "switched"
    PROBATION = "probation"
    HEALTHY = "healthy"
    ROLLED_BACK = "rolled_back"


class UpdateFailure(_Wire):
    version: str = Field(max_length=64)
    reason: str = Field(max_length=200)  # crash_loop, health_timeout, install_failed, verify_failed
    at: dt.datetime
    log_tail: tuple[str, ...] = Field((), max_length=200)


class UpdateAssignment(_Wire):
    """The version the server asks a device to run (in the heartbeat reply); None: stay as you are."""

    version: str = Field(pattern=VERSION_RE.pattern, max_length=64)
    retry: bool = False  # the operator asked again for a version that failed on this device


class UpdateReport(_Wire):
    """A device's update state, sent with each heartbeat."""

    running_version: str = Field(max_length=64)
    phase: UpdatePhase = UpdatePhase.IDLE
    target_version: str | None = Field(None, max_length=64)
    previous_version: str | None = Field(None, max_length=64)
    platform: str | None = Field(None, max_length=64)
    failure: UpdateFailure | None = None
