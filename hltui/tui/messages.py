"""Messages the dashboard's widgets and screens exchange (dataclasses, posting-style)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class ModelUpdated(Message):
    """The app drained engine events into the model; widgets re-read what changed."""

    cycle: int


@dataclass
class AssetHighlighted(Message):
    """The markets table's cursor is on a (possibly different) asset."""

    asset: str


@dataclass
class AssetChosen(Message):
    """Enter on a row: open the asset's detail screen."""

    asset: str


@dataclass
class FilterChanged(Message):
    """The `/` filter text changed (empty = no filter)."""

    text: str


@dataclass
class CollectorCrashed(Message):
    """The collector worker ended with an error (shown in red, app stays up)."""

    reason: str
