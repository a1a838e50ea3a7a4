"""Reading an experiment config: the one place retain parses YAML, and its error messages.

``load_config`` gives the whole typed config; ``ConfigFile`` reads and checks a file once and
gives the one section a command needs, with the same defaults and the same errors (each names the
key and what was expected; an unknown key also lists the valid keys at its level).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from core.config import ExperimentConfig, RegistryConfig, check_families, move_empc_costs
from core.economics import Economics
from core.engines import DaskConfig, Engine
from core.errors import ConfigError
from core.monitoring import MonitoringConfig
from core.risk_tiers import RiskTiers
from core.schema import TABLES
from core.sources import DataConfig, TableSource

T = TypeVar("T")


def read_yaml(path: Path) -> dict[str, Any]:
    """The top-level mapping of a config YAML: the one place retain parses a config file."""
    if not path.exists():
        raise ConfigError(f"config file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from err
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    return raw


@dataclass(frozen=True)
class ConfigFile:
    """An experiment YAML read once, each top-level key validated on its own when asked for.

    Commands that need part of a config (``retain score`` its data, engine and economics)
    take only that part; every key the file sets is validated when it is read, as
    ``load_config`` validates it, so ``retain features`` refuses what ``retain train`` refuses,
    with the same messages.
    """

    path: Path
    raw: dict[str, Any]

    @classmethod
    def read(cls, path: Path) -> ConfigFile:
        """Read ``path`` and validate every key it sets as ``load_config`` does, so every command
        refuses what ``retain train`` refuses (an unknown key anywhere, a bad value in a section
        the command does not read); only a missing top-level key is left to the commands that
        need it."""
        file = cls(path, read_yaml(path))
        try:
            ExperimentConfig.model_validate(file.raw)
        except ValidationError as err:
            errors = [
                e for e in err.errors() if not (e["type"] == "missing" and len(e["loc"]) == 1)
            ]
            if errors:
                lines = describe_errors(err, ExperimentConfig, only=errors)
                lines += [line for line in _cross_key_errors(file.raw) if line not in lines]
                raise ConfigError(f"{path} is invalid:\n" + "\n".join(lines)) from None
        return file

    def has(self, key: str) -> bool:
        """Whether the file sets ``key`` (to something other than null)."""
        return self.raw.get(key) is not None

    def experiment(self, overrides: dict[str, Any] | None = None) -> ExperimentConfig:
        """The whole config (with ``overrides`` on top), paths resolved against the file."""
        config = parse_config({**self.raw, **(overrides or {})}, source=str(self.path))
        return config.resolved(self.path.parent)

    def data(self) -> DataConfig:
        """The ``data`` section, relative paths made absolute against the file's folder."""
        data: DataConfig = self._field("data")
        return data.resolved(self.path.parent.resolve())

    def families(self) -> list[str] | None:
        """The ``families`` list (None: every available family)."""
        families: list[str] | None = self._field("families")
        self._check(check_families, families)
        return families

    def economics(self) -> Economics:
        """The ``economics`` section, with costs still given under their former ``empc`` keys."""
        moved = ConfigFile(self.path, self._check(move_empc_costs, self.raw))
        economics: Economics = moved._field("economics")
        return economics

    def risk_tiers(self) -> RiskTiers:
        """The ``risk_tiers`` section: the churn probabilities of the high and medium tiers."""
        tiers: RiskTiers = self._field("risk_tiers")
        return tiers

    def horizon_days(self) -> int:
        """``horizon_days``: how far churn and future value look ahead."""
        horizon: int = self._field("horizon_days")
        return horizon

    def registry(self) -> RegistryConfig:
        """The ``registry`` section: the registered model names."""
        registry: RegistryConfig = self._field("registry")
        return registry

    def monitoring(self) -> MonitoringConfig:
        """The ``monitoring`` section: drift thresholds and how many generations are kept."""
        monitoring: MonitoringConfig = self._field("monitoring")
        return monitoring

    def engine(self) -> tuple[Engine, DaskConfig]:
        """``engine`` and the ``dask`` section, its work folder resolved against the file."""
        engine: Engine = self._field("engine")
        dask: DaskConfig = self._field("dask")
        return engine, dask.resolved(self.path.parent)

    def _field(self, key: str) -> Any:
        """One top-level key validated by its field of ``ExperimentConfig``; absent: the default."""
        field = ExperimentConfig.model_fields[key]
        value = self.raw.get(key)
        if value is None:
            if field.is_required():
                raise ConfigError(f"{self.path} is invalid:\n  - {key}: required key is missing")
            return field.get_default(call_default_factory=True)
        kind: Any = field.annotation
        adapter: TypeAdapter[Any] = TypeAdapter(
            Annotated[kind, *field.metadata] if field.metadata else kind
        )
        try:
            return adapter.validate_python(value)
        except ValidationError as err:
            lines = describe_errors(err, ExperimentConfig, prefix=(key,))
            raise ConfigError(f"{self.path} is invalid:\n" + "\n".join(lines)) from None

    def _check(self, check: Callable[[Any], T], value: Any) -> T:
        """Run a check of the whole config on one part of it; its ValueError names the file."""
        try:
            return check(value)
        except ValueError as err:
            raise ConfigError(f"{self.path} is invalid:\n  - {err}") from None


def load_config(path: Path, overrides: dict[str, Any] | None = None) -> ExperimentConfig:
    """Read a YAML experiment config; data paths become absolute against the file's folder."""
    return ConfigFile.read(path).experiment(overrides)


def parse_config(raw: dict[str, Any], source: str = "config") -> ExperimentConfig:
    """Validate a config mapping; every error of the file at once, each naming its key's path
    and what was expected (checks across keys that pydantic skips once a key is invalid are
    run on the parts that are valid alone)."""
    try:
        return ExperimentConfig.model_validate(raw)
    except ValidationError as err:
        lines = describe_errors(err, ExperimentConfig)
        lines += [line for line in _cross_key_errors(raw) if line not in lines]
        raise ConfigError(f"{source} is invalid:\n" + "\n".join(lines)) from None


def _cross_key_errors(raw: dict[str, Any]) -> list[str]:
    """The checks of the data tables' mappings and of the family names, on each part that is
    valid on its own: what the whole config's validators would say once the rest is fixed."""
    lines: list[str] = []
    families = raw.get("families")
    if isinstance(families, list):
        try:
            check_families([str(f) for f in families])
        except ValueError as err:
            lines.append(f"  - {err}")
    data = raw.get("data")
    if not isinstance(data, dict):
        return lines
    for name, table in data.items():
        if name not in TABLES or not isinstance(table, dict):
            continue
        # the mapping alone: the table's other keys may hold errors listed already
        mapping = {k: table[k] for k in ("columns", "attributes") if k in table}
        try:
            source = TableSource.model_validate({"path": "-", **mapping})
        except ValidationError:
            continue
        lines += [f"  - data.{p}" for p in source.problems_for(TABLES[name])]
    return lines


def describe_errors(
    err: ValidationError,
    root: type[BaseModel],
    prefix: tuple[str, ...] = (),
    only: list[ErrorDetails] | None = None,
) -> list[str]:
    """One line per error (or per error of ``only``), naming the key path (under ``prefix`` when
    one section of ``root`` was validated alone); unknown keys also list the valid keys there."""
    lines = []
    for e in err.errors() if only is None else only:
        loc = (*prefix, *e["loc"])
        where = ".".join(str(p) for p in loc)
        if e["type"] == "extra_forbidden":
            valid = _valid_keys(root, loc[:-1])
            hint = f"; valid keys here: {', '.join(valid)}" if valid else ""
            lines.append(f"  - {where}: unknown key{hint}")
        elif e["type"] == "value_error":
            value = e.get("input")
            got = f" (got {value!r})" if isinstance(value, str | int | float) else ""
            lines += [f"  - {_join_key(where, m)}{got}" for m in _value_messages(e["msg"])]
        elif e["type"] == "missing":
            lines.append(f"  - {where}: required key is missing")
        else:
            message = e["msg"].removeprefix("Value error, ")
            lines.append(f"  - {where}: {message} (got {e.get('input')!r})")
    return lines


def _value_messages(message: str) -> list[str]:
    """A validator's ValueError text as its messages, one per line, without pydantic's prefix."""
    return [m for m in message.removeprefix("Value error, ").split("\n") if m]


def _join_key(where: str, message: str) -> str:
    """``data`` + ``transactions.columns: ...`` -> ``data.transactions.columns: ...``: a message
    that starts with a key path continues the location's."""
    if not where:
        return message
    if re.match(r"^[A-Za-z_][\w]*(?:\.[\w]+)*: ", message):
        return f"{where}.{message}"
    return f"{where}: {message}"


def _valid_keys(root: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    model: Any = root
    for part in loc:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        model = _model_in(field.annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _model_in(annotation: Any) -> Any:
    """The pydantic model inside an annotation such as ``TableSource | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
