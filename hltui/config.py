"""Settings: TOML file plus `HLTUI_*` environment, validated once at start.

A bad value must stop the program with one line naming the setting, so every
field validates eagerly and `load_settings` turns pydantic's report into a
`ConfigError` with a single readable message.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlparse

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from hltui.durations import parse_duration

KNOWN_SOURCES = ("hyperliquid", "hyperdash", "sampled")
DEFAULT_SOURCES = ("hyperliquid",)
HYPERLIQUID_MAINNET = "https://api.hyperliquid.xyz"
LEADERBOARD_MAINNET = "https://stats-data.hyperliquid.xyz/Mainnet/leaderboard"
HYPERDASH_SITE = "https://hyperdash.com"


class ConfigError(Exception):
    """A setting is invalid; `str()` is the one line shown to the user."""


def default_data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("hltui", appauthor=False))


def _check_url(value: str | None, *, allow_none: bool = False) -> str | None:
    if value is None or value == "":
        if allow_none:
            return None
        raise ValueError("a URL is required")
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"not an http(s) URL: {value!r}")
    return value.rstrip("/")


Duration = Annotated[float, NoDecode]


class Settings(BaseSettings):
    """Every knob of the collector and dashboard (see README, Configuration)."""

    model_config = SettingsConfigDict(
        env_prefix="HLTUI_", extra="forbid", validate_default=True, populate_by_name=True
    )

    # storage
    influx_url: str | None = None
    influx_token: SecretStr | None = None
    influx_username: str | None = None
    influx_password: SecretStr | None = None
    influx_org: str | None = None
    influx_database: str = "hyperliquid"
    influx_timeout: Duration = 10.0
    data_dir: Path = Field(default_factory=default_data_dir)
    write_batch_size: int = Field(5000, ge=1, le=100_000)

    # sources
    hyperliquid_url: str = HYPERLIQUID_MAINNET
    leaderboard_url: str = LEADERBOARD_MAINNET
    hyperdash_url: str = HYPERDASH_SITE
    hyperdash_api_url: str | None = None
    hyperdash_protocol: str = "graphql"
    hyperdash_api_key: SecretStr | None = None
    browser_path: str | None = None
    browser_rss_limit_mb: int = Field(1536, ge=64)  # relaunch Chromium above this RSS
    hyperdash_page: str = "/ticker/{asset}"  # page path (or absolute URL) template
    hyperdash_page_timeout: Duration = 20.0  # per page: navigation + the JSON it fetches
    hyperdash_pages: int = Field(1, ge=1, le=16)  # pages open at once within a batch
    hyperdash_assets: Annotated[tuple[str, ...], NoDecode] = ()  # empty: the market's
    hyperdash_max_assets: int = Field(50, ge=0)  # 0: every asset; else top N by OI notional
    hyperdash_navigation: str = "spa"  # spa: in-page route change; page: a load per asset
    sources: Annotated[tuple[str, ...], NoDecode] = DEFAULT_SOURCES
    request_timeout: Duration = 10.0
    weight_budget_share: float = Field(0.5, gt=0, le=1)
    sample_size: int = Field(200, ge=0)
    watch_list: Annotated[tuple[str, ...], NoDecode] = ()

    # engine
    interval: Duration = 60.0
    batch_size: int = Field(20, ge=1, le=1000)
    max_concurrency: int = Field(4, ge=1, le=64)
    breaker_threshold: int = Field(5, ge=1)
    breaker_reset: Duration = 30.0
    retry_attempts: int = Field(4, ge=1, le=20)
    spool_max_bytes: int = Field(256 * 1024 * 1024, ge=1024)

    # lifecycle (names from the original design)
    retention_period: Duration = parse_duration("7d")
    compression_min_age: Duration = parse_duration("24h")
    compressed_retention: Duration = parse_duration("90d")
    compression_interval: Duration = parse_duration("1h")
    downsampling_window: Duration = parse_duration("1h")

    log_level: str = "INFO"

    @field_validator(
        "influx_timeout", "request_timeout", "interval", "hyperdash_page_timeout",
        "breaker_reset", "retention_period",
        "compression_min_age", "compressed_retention", "compression_interval",
        "downsampling_window", mode="before",
    )
    @classmethod
    def _duration(cls, v: Any) -> float:
        return parse_duration(v)

    @field_validator("downsampling_window", "retention_period", "compressed_retention")
    @classmethod
    def _positive(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("must be greater than zero")
        return v

    @field_validator("influx_url", mode="before")
    @classmethod
    def _influx_url(cls, v: Any) -> str | None:
        return _check_url(v, allow_none=True)

    @field_validator("hyperliquid_url", "leaderboard_url", "hyperdash_url", mode="before")
    @classmethod
    def _url(cls, v: Any) -> str:
        return _check_url(v)  # type: ignore[return-value]

    @field_validator("hyperdash_api_url", mode="before")
    @classmethod
    def _opt_url(cls, v: Any) -> str | None:
        return _check_url(v, allow_none=True)

    @field_validator("sources", mode="before")
    @classmethod
    def _sources(cls, v: Any) -> tuple[str, ...]:
        items = [s.strip().lower() for s in v.split(",")] if isinstance(v, str) else list(v)
        items = [s for s in items if s]
        unknown = [s for s in items if s not in KNOWN_SOURCES]
        if unknown:
            raise ValueError(
                f"unknown source {unknown[0]!r}; choose from {', '.join(KNOWN_SOURCES)}"
            )
        if not items:
            raise ValueError("at least one source is required")
        return tuple(dict.fromkeys(items))

    @field_validator("watch_list", mode="before")
    @classmethod
    def _watch_list(cls, v: Any) -> tuple[str, ...]:
        items = v.split(",") if isinstance(v, str) else list(v)
        out = []
        for item in (s.strip().lower() for s in items):
            if not item:
                continue
            if not (item.startswith("0x") and len(item) == 42):
                raise ValueError(f"not a 0x address: {item!r}")
            int(item, 16)
            out.append(item)
        return tuple(out)

    @field_validator("hyperdash_page")
    @classmethod
    def _page_template(cls, v: str) -> str:
        if "{asset}" not in v:
            raise ValueError("must contain {asset}, e.g. /ticker/{asset}")
        try:
            v.format(asset="BTC")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"bad template: {exc}") from None
        return v

    @field_validator("hyperdash_assets", mode="before")
    @classmethod
    def _hd_assets(cls, v: Any) -> tuple[str, ...]:
        items = v.split(",") if isinstance(v, str) else list(v)
        return tuple(dict.fromkeys(s.strip() for s in items if s.strip()))

    @field_validator("hyperdash_navigation")
    @classmethod
    def _navigation(cls, v: str) -> str:
        if v not in ("spa", "page"):
            raise ValueError("must be 'spa' or 'page'")
        return v

    @field_validator("hyperdash_protocol")
    @classmethod
    def _protocol(cls, v: str) -> str:
        if v not in ("graphql", "rest"):
            raise ValueError("must be 'graphql' or 'rest'")
        return v

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        v = v.upper()
        if v not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return v

    @property
    def store_label(self) -> str:
        """What the first log line and the dashboard header name as the store."""
        if self.influx_url:
            return f"InfluxDB {self.influx_url} db={self.influx_database}"
        return f"embedded {self.data_dir / 'hltui.sqlite'}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # explicit arguments (CLI flags) > environment > TOML file (passed as init)
        return (init_settings, env_settings)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config: file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config: {path} is not valid TOML: {exc}") from None
    # accept a [hltui] table or top-level keys
    table = data.get("hltui", data)
    return {str(k).lower().replace("-", "_"): v for k, v in table.items()}


def load_settings(config: Path | str | None = None, **overrides: Any) -> Settings:
    """Build settings from TOML (lowest), environment, then explicit overrides."""
    file_values = _read_toml(Path(config)) if config else {}
    env_keys = {k[len("HLTUI_"):].lower() for k in os.environ if k.startswith("HLTUI_")}
    values = {k: v for k, v in file_values.items() if k not in env_keys}
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None


def _one_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err.get("loc", ())) or "settings"
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    if err.get("type") == "extra_forbidden":
        return f"config: unknown setting {loc!r}"
    value = err.get("input")
    shown = "" if "token" in loc or "password" in loc or "key" in loc else f" (got {value!r})"
    if isinstance(value, dict) or repr(value) in msg:
        shown = ""
    return f"config: HLTUI_{loc.upper()}: {msg}{shown}"
