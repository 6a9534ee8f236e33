"""Load settings from TOML and the environment, naming the key and the reason on any error."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.config.root import Settings
from bot.config.suggest import did_you_mean, keys_at
from bot.errors import ConfigError

CONFIG_ENV = "CONDUCTOR_CONFIG"
DATA_DIR_ENV = "CONDUCTOR_DATA_DIR"
DATABASE_URL_ENV = "CONDUCTOR_DATABASE_URL"


@dataclass(frozen=True)
class LoadedConfig:
    settings: Settings
    path: Path | None  # None: the embedded defaults


def key_path(loc: tuple[int | str, ...]) -> str:
    """('rules', 2, 'runbook') -> 'rules[2].runbook'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(root)"


def _problems(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors():
        loc = tuple(p for p in item["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        reason = item["msg"]
        if item["type"] == "extra_forbidden":
            reason = "unknown key" + did_you_mean(str(loc[-1]), keys_at(Settings, loc[:-1]))
        elif reason.startswith("Value error, "):
            reason = reason.removeprefix("Value error, ")
        problems.append(f"{key_path(loc)}: {reason}")
    return problems


def choose_config_path(explicit: Path | None, environ: Mapping[str, str]) -> Path | None:
    """--config, else $CONDUCTOR_CONFIG, else ./config.toml if present, else None (embedded defaults)."""
    if explicit is not None:
        return explicit
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV])
    local = Path("config.toml")
    return local if local.is_file() else None


def parse_settings(raw: Mapping[str, Any], environ: Mapping[str, str]) -> Settings:
    data = dict(raw)
    if environ.get(DATA_DIR_ENV):
        data["data_dir"] = environ[DATA_DIR_ENV]
    if environ.get(DATABASE_URL_ENV):
        database = dict(data.get("database") or {})
        database["url"] = environ[DATABASE_URL_ENV]
        data["database"] = database
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_problems(exc)) from None


def load_config(explicit: Path | None = None, environ: Mapping[str, str] | None = None) -> LoadedConfig:
    env = os.environ if environ is None else environ
    path = choose_config_path(explicit, env)
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError([f"{path}: no such file"]) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    settings = parse_settings(raw, env)
    return LoadedConfig(settings=settings, path=path)
