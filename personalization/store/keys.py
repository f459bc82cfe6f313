"""Redis key names.

Everything that belongs to one person lives under ``<prefix>:{p:<id>}:<what>``: the part in braces
is the hash tag, so one profile's keys share a Redis Cluster slot and can be updated together in
one Lua script or transaction. Data that is not a person's (content, statistics per item, the
schedule of due actions) lives under ``<prefix>:<what>``.

``PROFILE_PARTS`` lists every per-person key; ``erase`` deletes them all at once, so a module that
adds a per-person key adds its name here.
"""

from __future__ import annotations

from dataclasses import dataclass

PROFILE_PARTS: tuple[str, ...] = (
    "profile",  # hash: v (version), doc (JSON)
    "events",  # stream: the person's events, bounded
    "seen",  # sorted set: event ids already applied (idempotency), bounded like the stream
    "decisions",  # set: ids of decision records that name the person
    "caps",  # hash: frequency-cap counters per item and period
    "actions",  # hash: pending and past next actions
    "conversation",  # hash: chat state per session
    "visit",  # hash: the interests of the moment per session (what this visit is about)
    "ab",  # hash: A/B test assignments
)


def session_owner(profile_id: str | None, session_id: str) -> str:
    """Whose per-person records hold the state of a session (a conversation, a visit): the
    profile, so ``erase`` forgets it, else the anonymous session ``s-<session_id>``."""
    return profile_id or f"s-{session_id}"


def _check_id(value: str) -> str:
    # Braces would break the hash tag; the API validates ids, this guards programmer errors.
    assert value and "{" not in value and "}" not in value, f"bad id for a key: {value!r}"
    return value


@dataclass(frozen=True, slots=True)
class Keys:
    """Key names under one namespace ``prefix``."""

    prefix: str = "kairos"

    def profile_tag(self, profile_id: str) -> str:
        return f"{self.prefix}:{{p:{_check_id(profile_id)}}}"

    def of_profile(self, profile_id: str, part: str) -> str:
        assert part in PROFILE_PARTS, f"unregistered per-profile key part: {part}"
        return f"{self.profile_tag(profile_id)}:{part}"

    def all_of_profile(self, profile_id: str) -> list[str]:
        return [self.of_profile(profile_id, part) for part in PROFILE_PARTS]

    def shared(self, *parts: str) -> str:
        """A key that belongs to no person, e.g. ``shared("stats", item_id)``."""
        return ":".join((self.prefix, *parts))
