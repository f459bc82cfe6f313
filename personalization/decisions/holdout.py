"""The control group: a stable share of visitors who get the slot defaults, to measure uplift.

Membership is a hash of the visitor's id (profile, else anonymous id, else session) with a salt,
so the same person is in the same group on every worker and every day, without storing
anything, and changing the salt reshuffles everybody.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

_BUCKETS = 10_000


@dataclass(frozen=True, slots=True)
class Holdout:
    """``share`` of visitors (0 to 0.5) are in the control group.

    >>> Holdout(share=0.1).in_control("p-42")   # the same answer every time
    False
    """

    share: float = 0.1
    salt: str = "kairos-holdout-v1"

    def __post_init__(self) -> None:
        assert 0.0 <= self.share <= 0.5, "the holdout share must lie in [0, 0.5]"

    def bucket(self, unit_id: str) -> int:
        """The visitor's bucket in ``[0, 10000)``; stable for a given salt."""
        digest = hashlib.blake2b(f"{self.salt}:{unit_id}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") % _BUCKETS

    def in_control(self, unit_id: str) -> bool:
        """Whether the visitor belongs to the control group."""
        return self.bucket(unit_id) < round(self.share * _BUCKETS)
