"""Token classification: which coins are stablecoins, wrapped, liquid-staking or tokenized assets, and why.

:mod:`.classify` weighs the evidence in order (:mod:`.categories`, :mod:`.curated`, :mod:`.peg_evidence`), each
class from a day on (point in time);
:mod:`.overrides` applies a user's choices over the result; :mod:`.records` is the decision and its frame.
"""

from coinseason.data.classification.classify import classify_coins
from coinseason.data.classification.curated import CuratedList, load_curated, parse_curated
from coinseason.data.classification.overrides import Overrides, apply_overrides, load_overrides
from coinseason.data.classification.peg_evidence import PriceMatrix, price_matrix
from coinseason.data.classification.records import CLASSIFICATION_SCHEMA, excluded_ids

__all__ = [
    "CLASSIFICATION_SCHEMA",
    "CuratedList",
    "Overrides",
    "PriceMatrix",
    "apply_overrides",
    "classify_coins",
    "excluded_ids",
    "load_curated",
    "load_overrides",
    "parse_curated",
    "price_matrix",
]
