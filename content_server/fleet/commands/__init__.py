"""Remote commands: restart, reboot, sync now, clear the cache, screenshot, identify, screen
power, volume, for one screen or a whole group, delivered within seconds and done at most once.

An operator sends a command to a selector (screens, groups, classes, kinds, a building, a tag
expression, as campaigns target); the server resolves it to the screens it names now and keeps
one row per screen (``models``). Connected devices hold a long-poll (``GET /device/commands``,
the emergency long-poll's sibling) that one notifier per process answers (``notifier``: one
database read per interval whatever the number of devices, no thread per device); a device that
is offline gets its commands when it comes back, unless they expired first. The device executes
each command id at most once (it remembers ids on disk) and acknowledges it with its outcome and
time. Every send is recorded, append-only, with who sent it, their role, when and from where.

- pure: ``selector`` (who a selector names, what state a command is in);
- ``models``: sends (append-only) and per-device commands; ``services``: send, poll, acknowledge,
  list; ``notifier``: the long-poll's wake-ups; ``routes`` (device and operator JSON API),
  ``pages`` and ``templates/`` (portal), ``runtime`` (start and stop the notifier).
"""
