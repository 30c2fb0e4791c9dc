"""Which of two pushes of a target is the newer: the one order "newest wins" is decided by.

Two pushes that both carry a version (the target has a ``semver:`` pattern and both tags are versions) are
ordered by version, whatever their push times: ``1.3.9`` pushed after ``1.4.2`` is the older. Any other pair
is ordered by push time, as before version policies. The claim rules (``domain.ledger.judge_push``) ask only
this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from pushdeploy.domain.times import describe_time
from pushdeploy.domain.versions import compare_versions

if TYPE_CHECKING:  # the ledger's rules import this module
    from pushdeploy.domain.ledger import PushRecord


class Order(StrEnum):
    NEWER = "NEWER"
    SAME = "SAME"  # the same version, or (by time) the same instant
    OLDER = "OLDER"


@dataclass(frozen=True)
class PushOrder:
    """How a push stands to another one, and by what."""

    order: Order
    by_version: bool

    @property
    def newer(self) -> bool:
        return self.order is Order.NEWER

    @property
    def older(self) -> bool:
        return self.order is Order.OLDER

    @property
    def same_version(self) -> bool:
        return self.by_version and self.order is Order.SAME


def order_pushes(push: PushRecord, other: PushRecord) -> PushOrder:
    """How ``push`` stands to ``other``: by version when both carry one, else by push time."""
    if push.version is not None and other.version is not None:
        try:
            sign = compare_versions(push.version, other.version)
        except ValueError:
            pass  # a recorded version that no longer parses: push time decides, as for an unversioned push
        else:
            return PushOrder(_ORDERS[sign], by_version=True)
    sign = (push.pushed_at > other.pushed_at) - (push.pushed_at < other.pushed_at)
    return PushOrder(_ORDERS[sign], by_version=False)


_ORDERS = {1: Order.NEWER, 0: Order.SAME, -1: Order.OLDER}


def describe_push(push: PushRecord, *, by_version: bool) -> str:
    """A push as a reason names it: ``version 1.4.2 (tag v1.4.2)`` or ``tag staging-42 (pushed <time>)``."""
    if by_version:
        return f"version {push.version} (tag {push.tag})"
    return f"tag {push.tag} (pushed {describe_time(push.pushed_at)})"


def stale_reason(push: PushRecord, other: PushRecord, order: PushOrder, where: str) -> str:
    """Why ``push`` is stale: ``other`` (deployed, or being deployed: ``where``) is newer."""
    lower = "lower" if order.by_version else "older"
    return (
        f"stale: {describe_push(push, by_version=order.by_version)} is {lower} than "
        f"{describe_push(other, by_version=order.by_version)}, which {where}"
    )
