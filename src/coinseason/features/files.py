"""Feature file imports: a daily CSV (``date`` first, one column per metric, empty = no observation) read into
point-in-time rows ``(series, date, known_at, value)``, or refused whole naming what is wrong.

The formats are those of the shared feature data (see :mod:`coinseason.features.catalog` for the columns and the
publication lag of each series). ``news`` is a list of dated headlines (``date, text`` and optionally
``sentiment_score``), scored with VADER and aggregated per day.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from coinseason.errors import FormatError
from coinseason.features.catalog import FEATURE_SCHEMA, SPECS, FeatureFormat, SeriesSpec
from coinseason.features.sentiment import daily_sentiment

BOUNDS: dict[str, tuple[float, float]] = {"fng.value": (0.0, 100.0)}
"""Series whose values have a fixed range: a value outside it refuses the file."""


def parse_format(text: str) -> FeatureFormat:
    try:
        return FeatureFormat(text)
    except ValueError:
        known = ", ".join(f.value for f in FeatureFormat)
        raise FormatError(f"unknown feature format {text!r}: use one of {known}") from None


def _read_csv(path: Path, fmt: FeatureFormat) -> pl.DataFrame:
    if not path.is_file():
        raise FormatError(f"{path}: no such file")
    try:
        return pl.read_csv(path, infer_schema_length=None, try_parse_dates=False)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise FormatError(f"{path} is not a readable CSV file for feature format {fmt}: {exc}") from exc


def _dates(frame: pl.DataFrame, path: Path) -> pl.Series:
    if "date" not in frame.columns:
        raise FormatError(f"{path} has no date column")
    parsed = frame["date"].cast(pl.String).str.to_date("%Y-%m-%d", strict=False)
    bad = parsed.is_null() & frame["date"].is_not_null()
    if bad.any() or frame["date"].is_null().any():
        first = frame.filter(bad | frame["date"].is_null())["date"][0]
        raise FormatError(f"{path}: date {first!r} is not a YYYY-MM-DD day")
    return parsed


def feature_rows(frame: pl.DataFrame, specs: tuple[SeriesSpec, ...], *, where: str) -> pl.DataFrame:
    """Long point-in-time rows from a daily wide frame (``date`` as pl.Date and the specs' columns)."""
    missing = [s.column for s in specs if s.column not in frame.columns]
    if missing:
        raise FormatError(f"{where} lacks the column(s) {', '.join(missing)}")
    parts = []
    for spec in specs:
        try:
            values = frame[spec.column].cast(pl.Float64, strict=True)
        except pl.exceptions.PolarsError as exc:
            raise FormatError(f"{where}: column {spec.column} is not numeric: {exc}") from exc
        bounds = BOUNDS.get(spec.series, (-float("inf"), float("inf")))
        wrong = values.is_infinite() | values.is_nan() | (values < bounds[0]) | (values > bounds[1])
        if wrong.any():
            i = int(wrong.arg_true()[0])
            what = "not a finite number" if not values.is_finite()[i] else f"outside {bounds[0]:g} to {bounds[1]:g}"
            raise FormatError(
                f"{where}: day {frame['date'][i]} (row {i + 1}): {spec.column} = {values[i]} is {what};"
                " nothing imported"
            )
        keep = values.is_not_null()
        days: list[dt.date] = frame["date"].filter(keep).to_list()
        parts.append(
            pl.DataFrame(
                {
                    "series": [spec.series] * len(days),
                    "date": days,
                    "known_at": [spec.lag(d) for d in days],
                    "value": values.filter(keep),
                },
                schema=FEATURE_SCHEMA,
            )
        )
    rows = pl.concat(parts) if parts else pl.DataFrame(schema=FEATURE_SCHEMA)
    dup = rows.select("series", "date").is_duplicated()
    if dup.any():
        first = rows.filter(dup).row(0)
        raise FormatError(f"{where}: day {first[1]} of {first[0]} appears more than once")
    return rows


def read_feature_file(path: Path, fmt: FeatureFormat | str) -> pl.DataFrame:
    """Rows in :data:`FEATURE_SCHEMA` from the file at ``path``; :class:`FormatError` when it is not ``fmt``."""
    fmt = parse_format(fmt) if isinstance(fmt, str) else fmt
    frame = _read_csv(path, fmt)
    dates = _dates(frame, path)
    frame = frame.with_columns(dates.alias("date"))
    if fmt is FeatureFormat.NEWS:
        if "text" not in frame.columns:
            raise FormatError(f"{path} lacks the column text (format news: date, text[, sentiment_score])")
        frame = daily_sentiment(frame)
    return feature_rows(frame, SPECS[fmt], where=f"{path} (format {fmt})")
