"""The README's tables of every setting and of what each provider plan gives, rendered from the code they
describe (:class:`~coinseason.settings.Settings` and its fields' descriptions; the plans and the backfill
estimate), so the README cannot drift: ``tests/test_settings_docs.py`` fails when its tables differ.

Regenerate both tables in place: ``python -m coinseason.services.settings_docs README.md``
(``--check`` only says whether they are up to date)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import typing
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

from coinseason.providers.base import Plan
from coinseason.providers.coingecko import COINGECKO_PLANS, PAGE_SIZE
from coinseason.providers.coinmarketcap import CMC_PLANS, LISTING_PAGE
from coinseason.services.ingestion.categories import EXCLUSION_CATEGORIES
from coinseason.services.ingestion.estimate import describe_seconds, estimate_backfill
from coinseason.settings import Settings

SETTINGS_MARKERS: Final = ("<!-- settings-table:start -->", "<!-- settings-table:end -->")
PLANS_MARKERS: Final = ("<!-- plans-table:start -->", "<!-- plans-table:end -->")
BACKFILL_TOP: Final = 500
"""The backfill the plans table times: today's top 500, as ``serve`` does it on an empty store."""
DEFAULT_DB: Final = "`coinseason.duckdb` in the user data directory"


def _variable(concern: type[BaseSettings], name: str, info: FieldInfo) -> str:
    alias = info.validation_alias
    if isinstance(alias, str):
        return alias
    return f"{concern.model_config.get('env_prefix', '')}{name}".upper()


def _type(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(str(a) for a in args)
    if args and type(None) in args:
        return _type(next(a for a in args if a is not type(None)))
    if origin is list:
        return f"list of {_type(args[0])} (JSON)"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return " \\| ".join(str(m.value) for m in annotation)
    if annotation is SecretStr:
        return "secret"
    return getattr(annotation, "__name__", str(annotation))


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        value = info.default_factory()  # type: ignore[call-arg]  # the settings' factories take no argument
    elif info.default is PydanticUndefined:
        return "required"
    else:
        value = info.default
    if value is None or value == []:
        return "–"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Enum):
        value = value.value
    return f"`{value}`"


def _rows() -> Iterator[tuple[str, str, str, str]]:
    seen: set[str] = set()
    for name, info in Settings.model_fields.items():
        concern = info.annotation
        if isinstance(concern, type) and issubclass(concern, BaseSettings):
            for field_name, field in concern.model_fields.items():
                variable = _variable(concern, field_name, field)
                if variable in seen:  # a field shared by several concerns (the provider time-out) is one variable
                    continue
                seen.add(variable)
                yield variable, _type(field.annotation), _default(field), field.description or ""
        elif isinstance(concern, type) and issubclass(concern, BaseModel):
            continue
        else:
            variable = f"COINSEASON_{name}".upper()
            seen.add(variable)
            default = DEFAULT_DB if name == "db" else _default(info)
            yield variable, _type(info.annotation), default, (info.description or "").split(" (COINSEASON_")[0]


def settings_table() -> str:
    """Every ``COINSEASON_*`` setting: variable, type, default and what it does (the field's description)."""
    lines = ["| variable | type | default | what it does |", "|---|---|---|---|"]
    lines += [f"| `{v}` | {t} | {d} | {text} |" for v, t, d, text in _rows()]
    return "\n".join(lines)


def _plan_row(provider: str, plan: Plan, page: int, categories: int, today: dt.date) -> str:
    estimate = estimate_backfill(
        provider, plan, top=BACKFILL_TOP, today=today, page_size=page, category_calls=categories, with_snapshot=True
    )
    if plan.history_days == 0:
        reach, backfill = "none (daily snapshots from today)", "–"
    else:
        reach = "all (from 2013)" if plan.history_days is None else f"{plan.history_days} days"
        backfill = f"{estimate.calls} calls, about {describe_seconds(estimate.seconds)}"
    return f"| {provider} | `{plan.name}` | {plan.calls_per_minute} | {reach} | {backfill} |"


def plans_table(today: dt.date = dt.date(2026, 1, 1)) -> str:
    """What each plan gives: calls a minute, how far back its history reaches, and the calls and time of the
    first-run backfill of today's top 500 (the day's snapshot, then one history call a coin)."""
    lines = [
        f"| provider | plan | calls a minute | history reach | first-run backfill of the top {BACKFILL_TOP} |",
        "|---|---|---|---|---|",
    ]
    categories = len(EXCLUSION_CATEGORIES)
    lines += [_plan_row("coingecko", p, PAGE_SIZE, categories, today) for p in COINGECKO_PLANS.values()]
    lines += [_plan_row("cmc", p, LISTING_PAGE, 0, today) for p in CMC_PLANS.values()]
    return "\n".join(lines)


def _replace(text: str, markers: tuple[str, str], table: str) -> str:
    start, end = markers
    if start not in text or end not in text:
        raise ValueError(f"the README has no {start} … {end} block")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{table}\n{end}{tail}"


def rendered(readme: str) -> str:
    """``readme`` with its settings and plans tables as the code says they are."""
    return _replace(_replace(readme, SETTINGS_MARKERS, settings_table()), PLANS_MARKERS, plans_table())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate the README's tables of settings and provider plans.")
    parser.add_argument("readme", type=Path)
    parser.add_argument("--check", action="store_true", help="only say whether the tables are up to date")
    args = parser.parse_args(argv)
    text = args.readme.read_text(encoding="utf-8")
    new = rendered(text)
    if args.check:
        if new != text:
            sys.stderr.write(f"{args.readme}: the settings or plans table is out of date\n")
            return 1
        return 0
    if new != text:
        args.readme.write_text(new, encoding="utf-8")
        sys.stdout.write(f"{args.readme}: tables regenerated\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
