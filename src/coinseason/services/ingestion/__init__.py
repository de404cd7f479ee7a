"""Live ingestion from market-data providers: backfill, the scheduled snapshot loop, the one-ingestor lease."""

from coinseason.errors import LeaseHeld
from coinseason.services.ingestion.checks import PriceReference
from coinseason.services.ingestion.config import IngestConfig, IngestReport
from coinseason.services.ingestion.lease import default_owner
from coinseason.services.ingestion.schedule import Schedule, SnapshotKind
from coinseason.services.ingestion.service import IngestionService, IngestStore
from coinseason.services.ingestion.status import IngestStatus

__all__ = [
    "IngestConfig",
    "IngestReport",
    "IngestStatus",
    "IngestStore",
    "IngestionService",
    "LeaseHeld",
    "PriceReference",
    "Schedule",
    "SnapshotKind",
    "default_owner",
]
