"""Pick the store from settings: InfluxDB when HLTUI_INFLUX_URL is set, else the
embedded SQLite file in HLTUI_DATA_DIR (zero setup). `store.label` names it."""

from __future__ import annotations

from hltui.config import Settings
from hltui.store.base import Store


def make_store(settings: Settings) -> Store:
    if settings.influx_url:
        from hltui.store.influx import InfluxStore

        return InfluxStore(settings)
    from hltui.store.embedded import EmbeddedStore

    return EmbeddedStore(settings)
