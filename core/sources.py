"""Where input tables live and how a user's columns map onto the canonical contract.

These typed models are the ``data:`` section of an experiment config and the arguments of
``retain score``; they reject unknown keys and unknown canonical columns with the valid names.
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
from pathlib import Path, PurePosixPath
from typing import Literal
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.schema import TABLES, TableSpec

URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
"""A path with a protocol (s3://, gs://, memory://, file://): read through fsspec."""


def is_url(path: Path | str) -> bool:
    """Whether ``path`` is an fsspec URL rather than a local path."""
    return isinstance(path, str) and URL.match(path) is not None


def check_protocol(url: str) -> None:
    """Raise ValueError naming the package to install if ``url``'s protocol cannot be read."""
    import fsspec  # type: ignore[import-untyped]
    from fsspec.registry import known_implementations  # type: ignore[import-untyped]

    protocol = url.split("://", 1)[0].lower()
    try:
        fsspec.get_filesystem_class(protocol)
    except ImportError:
        known = known_implementations.get(protocol, {})
        module = str(known.get("class", "")).split(".")[0]
        need = (
            f"the {module} package, which is not installed: install it (pip install {module})"
            if module and module != "fsspec"
            else f"packages that are not installed ({known.get('err', 'see fsspec')}): install them"
        )
        raise ValueError(
            f"{url}: reading {protocol}:// URLs needs {need} or copy the data to a local path"
        ) from None
    except ValueError:
        raise ValueError(
            f"{url}: {protocol}:// is not a protocol fsspec knows; use a local path or a URL "
            "such as s3://, gs://, abfs://, https://, memory:// or file://"
        ) from None


class ExcludePattern(BaseModel):
    """Rows whose value matches a regular expression anywhere in the text (``re.search``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pattern: str = Field(description='A Python regular expression, e.g. "(?i)postage|manual".')

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as err:
            raise ValueError(f"not a valid regular expression ({err}): {value!r}") from None
        return value


ExcludeRule = list[str | int | float] | ExcludePattern
"""Exact values (compared as trimmed text) or a pattern."""


class TableSource(BaseModel):
    """One input table: a CSV or Parquet file and how its columns map to the canonical names."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Path | str = Field(
        description="CSV or Parquet file (the dask engine: also a folder or glob of them); "
        "relative paths are relative to the config file. Any fsspec URL (s3://, gs://, "
        "memory://, file://) is read as is, given its filesystem package (s3fs, gcsfs, ...).",
    )

    @field_validator("path", mode="before")
    @classmethod
    def _local_or_url(cls, value: object) -> object:
        """A URL stays text (a Path would turn s3://b/k into s3:/b/k); the rest is a Path."""
        if isinstance(value, str) and is_url(value):
            check_protocol(value)
            return value
        return Path(value) if isinstance(value, str) else value

    @property
    def file_name(self) -> str:
        """The last part of the path or URL (``orders.csv``)."""
        return PurePosixPath(str(self.path)).name if is_url(self.path) else Path(self.path).name

    columns: dict[str, str | list[str]] = Field(
        default_factory=dict,
        description=(
            "Canonical name -> your column. A list multiplies columns, e.g. "
            "amount: [Quantity, Price]. Unmapped canonical names are looked up as is."
        ),
    )
    format: Literal["auto", "csv", "parquet"] = Field(
        "auto", description="By file suffix when auto."
    )
    sep: str = Field(",", description=r"CSV separator; '\s+' for whitespace-separated files.")
    header: bool = Field(True, description="Whether the CSV's first line holds column names.")
    names: list[str] | None = Field(None, description="Column names for a CSV without a header.")
    date_format: str | None = Field(
        None, description="strptime format such as %Y%m%d; by default ISO 8601, then any format."
    )
    dayfirst: bool = Field(False, description="Read 01/02/2024 as 1 February, for non-ISO dates.")
    encoding: str = Field(
        "auto",
        description="Text encoding of a CSV; auto reads UTF-8, else cp1252 then latin-1 (Western "
        "European exports) with a warning saying which was assumed. Any Python codec name.",
    )
    decimal: Literal["auto", ".", ","] = Field(
        "auto",
        description="Decimal mark of numbers; auto reads 1,5 as 1.5 and 1,234.5 as 1234.5, and "
        "1,234 by the separator (decimal comma in ';'-files), with a warning.",
    )
    timezone: str = Field(
        "UTC",
        description=(
            "The business's time zone: times with a UTC offset are converted to it, times "
            "without one are taken as already in it. Days are counted in this zone."
        ),
    )
    drop_duplicates: bool = Field(
        True,
        description="Drop rows identical in every column of the file, columns retain does not "
        "read included (reported with their count): lines that differ only in a description "
        "are kept.",
    )
    attributes: list[str] | None = Field(
        None, description="customers table only: extra columns to keep as attributes (default all)."
    )
    exclude: dict[str, ExcludeRule] = Field(
        default_factory=dict,
        description="Rows to leave out before anything else, by column: a list of exact values "
        '(e.g. product_id: [POST, M, BANK CHARGES]) or {pattern: "(?i)postage|manual"}. A key '
        "is a canonical column (its mapped file column is tested) or any column of the file. "
        "Non-product lines such as postage, manual adjustments and bank charges are the usual "
        "case; the rows left out are counted in the load report, per rule.",
    )

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        if value != "auto":
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(
                    f"unknown text encoding {value!r}; use auto or a codec such as utf-8, "
                    "cp1252, latin-1"
                ) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        if value != "UTC" and value not in available_timezones():
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Paris")
        return value

    @model_validator(mode="after")
    def _names_need_headerless(self) -> TableSource:
        if self.names is not None and self.header:
            raise ValueError("'names' is only for CSV files without a header: set header: false")
        return self

    def check_for(self, spec: TableSpec) -> None:
        """Raise ValueError listing every way the mapping does not fit the table (one per line)."""
        problems = self.problems_for(spec)
        if problems:
            raise ValueError("\n".join(problems))

    def problems_for(self, spec: TableSpec) -> list[str]:
        """Every canonical column the mapping names that the table does not have, and the like,
        each prefixed with its key (``transactions.columns: ...``)."""
        problems = []
        valid = [c.name for c in spec.columns]
        unknown = sorted(set(self.columns) - set(valid))
        if unknown:
            problems.append(
                f"{spec.name}.columns: unknown canonical column(s) {unknown}; valid: {valid}"
            )
        lists = {k: v for k, v in self.columns.items() if isinstance(v, list)}
        not_numbers = sorted(k for k in lists if k in valid and spec.column(k).kind != "number")
        if not_numbers:
            problems.append(
                f"{spec.name}.columns: {not_numbers} map to a list of columns, which are "
                "multiplied; only number columns can (e.g. amount: [Quantity, Price])"
            )
        empty = sorted(k for k, v in lists.items() if not v)
        if empty:
            problems.append(f"{spec.name}.columns: {empty} map to an empty list of columns")
        if self.attributes is not None and not spec.keeps_extra_columns:
            problems.append(f"{spec.name}: 'attributes' is only valid for the customers table")
        return problems

    def resolved(self, base: Path) -> TableSource:
        """This source with a relative local path made absolute against ``base``; URLs as given."""
        if isinstance(self.path, str):
            return self
        path = self.path if self.path.is_absolute() else (base / self.path)
        return self.model_copy(update={"path": path.resolve()})


AttributeType = Literal["numeric", "categorical", "boolean", "date"]


class SnapshotSource(TableSource):
    """A labelled CRM export: customer, as_of day, churned flag and attribute columns."""

    as_of: dt.date | None = Field(
        None,
        description="The day the whole table describes, when it has no as_of column to map.",
    )
    positive: list[str] | None = Field(
        None,
        description="Label values meaning 'churned' (case-insensitive); default yes, y, true, "
        "t, 1, churned.",
    )
    negative: list[str] | None = Field(
        None,
        description="Label values meaning 'stayed'; default no, n, false, f, 0, active.",
    )
    types: dict[str, AttributeType] = Field(
        default_factory=dict,
        description="Override an inferred attribute type, e.g. {SeniorCitizen: categorical}.",
    )
    drop: list[str] = Field(
        default_factory=list, description="Columns that are not features (names, free text)."
    )
    row_ids: bool = Field(
        False,
        description="The export has no customer id column: customers are numbered by their "
        "row (1 for the first data row); scores, campaigns and the report name them so.",
    )
    min_level_rows: int = Field(
        20, ge=1, description="Categorical levels with fewer rows are grouped as '(other)'."
    )

    @model_validator(mode="after")
    def _one_as_of(self) -> SnapshotSource:
        problems = []
        if self.as_of is not None and "as_of" in self.columns:
            problems.append(
                "give as_of either as one date (as_of: 2024-06-30) or as a mapped column "
                "(columns: {as_of: <your column>}), not both"
            )
        if self.row_ids and "customer_id" in self.columns:
            problems.append(
                "give customer ids either by row (row_ids: true) or as a mapped column "
                "(columns: {customer_id: <your column>}), not both"
            )
        both = sorted(set(self.types) & set(self.drop))
        if both:
            problems.append(f"{both} are both in types and in drop; keep each in one")
        if self.positive is not None and self.negative is not None:
            overlap = sorted(
                {v.lower() for v in self.positive} & {v.lower() for v in self.negative}
            )
            if overlap:
                problems.append(f"label value(s) {overlap} are both positive and negative")
        if problems:
            raise ValueError("\n".join(problems))
        return self


class DataConfig(BaseModel):
    """The input tables of one data set: a transaction log or a labelled snapshot table (or both),
    and the other tables when the business has them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    transactions: TableSource | None = Field(None, description=TABLES["transactions"].description)
    customers: TableSource | None = Field(None, description=TABLES["customers"].description)
    subscriptions: TableSource | None = Field(None, description=TABLES["subscriptions"].description)
    interactions: TableSource | None = Field(None, description=TABLES["interactions"].description)
    snapshots: SnapshotSource | None = Field(
        None, description="A labelled CRM export; labels come from it, not from events."
    )
    treatments: TableSource | None = Field(
        None,
        description="Past retention campaigns with randomized control groups (customer_id, "
        "campaign_id, arm, contacted_at, offer): what campaign results and uplift models read.",
    )
    strict: bool = Field(False, description="Fail on any unusable row instead of excluding it.")

    @model_validator(mode="after")
    def _mappings_match_tables(self) -> DataConfig:
        if self.transactions is None:
            if self.snapshots is None:
                raise ValueError(
                    "give a transactions table (an event log) or a snapshots table (a labelled "
                    "CRM export with one row per customer and date)"
                )
            others = [
                n
                for n in ("customers", "subscriptions", "interactions", "treatments")
                if n in self.sources()
            ]
            if others:
                raise ValueError(
                    f"{others} are read beside a transactions table: add one, or put those "
                    "columns in the snapshots table"
                )
        problems = [
            p for name, source in self.sources().items() for p in source.problems_for(TABLES[name])
        ]
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def labelled(self) -> bool:
        """True when labels come from a snapshots table rather than from events."""
        return self.snapshots is not None

    @property
    def timezone(self) -> str:
        """The business time zone: of the transactions, else of the snapshots table."""
        source = self.transactions or self.snapshots
        assert source is not None
        return source.timezone

    def sources(self) -> dict[str, TableSource]:
        """The configured tables, by canonical table name."""
        tables: dict[str, TableSource | None] = {
            "transactions": self.transactions,
            "customers": self.customers,
            "subscriptions": self.subscriptions,
            "interactions": self.interactions,
            "snapshots": self.snapshots,
            "treatments": self.treatments,
        }
        return {k: v for k, v in tables.items() if v is not None}

    def event_sources(self) -> dict[str, TableSource]:
        """The configured event tables: neither snapshots nor treatments (what ``load_data``
        reads; ``features.treatments.load_treatments`` reads the treatments)."""
        return {k: v for k, v in self.sources().items() if k not in ("snapshots", "treatments")}

    def resolved(self, base: Path) -> DataConfig:
        """This config with every relative path made absolute against ``base``."""
        update = {k: v.resolved(base) for k, v in self.sources().items()}
        return self.model_copy(update=update)
