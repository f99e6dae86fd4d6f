"""What a platform route module gets to build its router."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aurora_pipelines.governance.store import GovernanceStore
    from aurora_pipelines.settings import Settings


@dataclass(frozen=True)
class PlatformContext:
    """The stores behind the API and the `caller` dependency (token → user name)."""

    settings: Settings
    store: GovernanceStore
    caller: Callable[..., str]
