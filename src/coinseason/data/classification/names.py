"""What a coin's name says about it: staked, staking, bridged or wrapped."""

from __future__ import annotations

import re

_STAKED = re.compile(r"staked", re.IGNORECASE)  # Staked, Restaked: corroborates a broad category
_STAKING = re.compile(r"stak", re.IGNORECASE)  # also Staking, StakeStone: for tokens already pegged
_WRAPPED = re.compile(r"\b(bridged|wrapped)\b|-peg\b", re.IGNORECASE)


def says_staked(name: str | None) -> bool:
    """The name says staked (Staked, Restaked)."""
    return bool(name and _STAKED.search(name))


def mentions_staking(name: str | None) -> bool:
    """The name mentions staking in any form (Staked, Staking, StakeStone…)."""
    return bool(name and _STAKING.search(name))


def says_bridged_or_wrapped(name: str | None) -> bool:
    """The name says bridged or wrapped (or ``-Peg``, as Binance-Peg tokens)."""
    return bool(name and _WRAPPED.search(name))
