"""What a training run is: the labels (horizon H, dominance move X), the walk-forward plan, the small grids the
nested selection chooses from, and the bootstrap and checks that judge the result."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from coinseason.core.labels import ENTRY_GAP
from coinseason.errors import ConfigError

ENTRY_GAPS = (7, ENTRY_GAP, 30)
"""Grid of the debounce k chosen inside each training window."""
TREES = (25, 50, 100)
"""Grid of the gradient-boosting size chosen inside each training window (one fit of the largest, read at each
size: boosting is sequential, so the first 25 trees of a 100-tree fit are the 25-tree model)."""


@dataclass(frozen=True, slots=True)
class TrainConfig:
    horizon: int = 30
    """H: a transition counts when it happens within the next H days."""
    dominance_points: float = 5.0
    """X: BTC dominance moving by at least X percentage points within H days."""
    entry_gaps: tuple[int, ...] = ENTRY_GAPS
    """Grid of k (an entry into a season counts as a transition only after at least k days outside that season),
    chosen inside each training window; one value fixes k."""
    default_entry_gap: int = ENTRY_GAP
    """The k of a block whose training window holds too few transitions to choose (must be in the grid)."""
    top: int = 50
    window: int = 90
    altcoin_at: float = 75.0
    bitcoin_at: float = 25.0
    embargo: int | None = None
    """Days dropped after the purge (default: H; never less than H)."""
    min_train_days: int = 730
    """Training days of the first reported walk-forward block."""
    warmup_train_days: int | None = None
    """Training days of the first selection-only block (default: half of ``min_train_days``): blocks between this
    and ``min_train_days`` are predicted only so that the first reported block has a record to choose k, the model
    size and the served model from."""
    test_days: int = 180
    alert_rate: float = 0.1
    """Share of days an alert aims at: each block alerts above the (1 - rate) quantile of the same model's earlier
    out-of-sample probabilities (its record), never above a threshold set on the reported days."""
    seed: int = 0
    trees: tuple[int, ...] = TREES
    learning_rate: float = 0.1
    max_leaf_nodes: int = 7
    min_samples_leaf: int = 80
    min_record_events: int = 2
    """Transitions a training window's record needs before k, the model size or the served model are chosen
    from it (else: the default k, the fewest trees, the logistic baseline)."""
    bootstrap: int = 2000
    """Event-bootstrap resamples of the reported intervals."""
    selection_bootstrap: int = 400
    """Event-bootstrap resamples of the served-model choice inside each training window."""
    importance_repeats: int = 2
    importance_folds: int = 4
    """Permutation importance is measured on the test blocks of the last this many folds (the recent years)."""
    null_runs: int = 19
    """Label-shift runs of the permutation null of ``model train --check``."""
    change_points: bool = True

    def __post_init__(self) -> None:
        if self.horizon < 1:
            raise ConfigError(f"--horizon must be at least 1 day, not {self.horizon}")
        if not self.entry_gaps or min(self.entry_gaps) < 1:
            raise ConfigError(f"--entry-gaps must be days >= 1, not {self.entry_gaps}")
        if self.default_entry_gap not in self.entry_gaps:
            object.__setattr__(self, "default_entry_gap", self.entry_gaps[len(self.entry_gaps) // 2])
        if not self.dominance_points > 0:
            raise ConfigError(f"--dominance-points must be positive, not {self.dominance_points}")
        if self.embargo is not None and self.embargo < self.horizon:
            raise ConfigError(f"--embargo ({self.embargo}) must be at least the horizon ({self.horizon} days)")
        if self.min_train_days < 30 or self.test_days < 1:
            raise ConfigError("--min-train-days must be at least 30 and --test-days at least 1")
        if not 30 <= self.warmup_days <= self.min_train_days:
            raise ConfigError("the warm-up training span must be between 30 days and --min-train-days")
        if not 0 < self.alert_rate < 1:
            raise ConfigError(f"--alert-rate must be between 0 and 1, not {self.alert_rate}")
        if not self.trees or min(self.trees) < 1:
            raise ConfigError(f"--trees must be positive numbers of trees, not {self.trees}")
        if self.null_runs < 1 or self.bootstrap < 100 or self.selection_bootstrap < 100:
            raise ConfigError("the null needs at least 1 run and the bootstraps at least 100 resamples")
        object.__setattr__(self, "entry_gaps", tuple(sorted(set(self.entry_gaps))))
        object.__setattr__(self, "trees", tuple(sorted(set(self.trees))))

    @property
    def embargo_days(self) -> int:
        return self.horizon if self.embargo is None else self.embargo

    @property
    def warmup_days(self) -> int:
        return max(30, self.min_train_days // 2) if self.warmup_train_days is None else self.warmup_train_days

    @property
    def warmup_blocks(self) -> int:
        """Selection-only blocks before the first reported one."""
        return (self.min_train_days - self.warmup_days) // self.test_days

    def as_dict(self) -> dict[str, object]:
        return asdict(self)
