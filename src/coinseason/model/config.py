"""What a training run is: the labels (horizon H, dominance move X), the walk-forward plan and the model sizes."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from coinseason.core.labels import ENTRY_GAP
from coinseason.errors import ConfigError

LOGISTIC_FEATURES = ("asi_{w}", "asi_{w}_slope_30", "btc_dom_chg_30")
"""The three features of the logistic baseline (``{w}``: the index window of the labels)."""


@dataclass(frozen=True, slots=True)
class TrainConfig:
    horizon: int = 30
    """H: a transition counts when it happens within the next H days."""
    dominance_points: float = 5.0
    """X: BTC dominance moving by at least X percentage points within H days."""
    entry_gap: int = ENTRY_GAP
    """k: an entry into a season counts as a transition only after at least k days outside that season."""
    top: int = 50
    window: int = 90
    altcoin_at: float = 75.0
    bitcoin_at: float = 25.0
    embargo: int | None = None
    """Days dropped after the purge (default: H; never less than H)."""
    min_train_days: int = 730
    test_days: int = 180
    alert_rate: float = 0.1
    """Share of days on which an alert is raised, for precision at a fixed alert rate and lead times."""
    seed: int = 0
    trees: int = 50
    learning_rate: float = 0.05
    max_leaf_nodes: int = 7
    min_samples_leaf: int = 80
    importance_repeats: int = 2
    importance_folds: int = 4
    """Permutation importance is measured on the test blocks of the last this many folds (the recent years)."""
    change_points: bool = True

    def __post_init__(self) -> None:
        if self.horizon < 1:
            raise ConfigError(f"--horizon must be at least 1 day, not {self.horizon}")
        if self.entry_gap < 1:
            raise ConfigError(f"--entry-gap must be at least 1 day, not {self.entry_gap}")
        if not self.dominance_points > 0:
            raise ConfigError(f"--dominance-points must be positive, not {self.dominance_points}")
        if self.embargo is not None and self.embargo < self.horizon:
            raise ConfigError(f"--embargo ({self.embargo}) must be at least the horizon ({self.horizon} days)")
        if self.min_train_days < 30 or self.test_days < 1:
            raise ConfigError("--min-train-days must be at least 30 and --test-days at least 1")
        if not 0 < self.alert_rate < 1:
            raise ConfigError(f"--alert-rate must be between 0 and 1, not {self.alert_rate}")
        if self.trees < 1:
            raise ConfigError(f"--trees must be at least 1, not {self.trees}")

    @property
    def embargo_days(self) -> int:
        return self.horizon if self.embargo is None else self.embargo

    @property
    def logistic_features(self) -> tuple[str, ...]:
        return tuple(name.format(w=self.window) for name in LOGISTIC_FEATURES)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)
