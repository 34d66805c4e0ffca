"""hltui: terminal dashboard and collector for HyperLiquid perpetuals analytics."""

__version__ = "0.1.0"
