"""Live ingestion from market-data providers: backfill, the scheduled snapshot loop, the one-ingestor lease."""

from coinseason.services.ingestion.schedule import Schedule, SnapshotKind
from coinseason.services.ingestion.service import (
    IngestConfig,
    IngestionService,
    IngestReport,
    IngestStatus,
    LeaseHeld,
    PriceReference,
    default_owner,
)

__all__ = [
    "IngestConfig",
    "IngestReport",
    "IngestStatus",
    "IngestionService",
    "LeaseHeld",
    "PriceReference",
    "Schedule",
    "SnapshotKind",
    "default_owner",
]
