"""Source `sampled`: positioning computed from HyperLiquid's own public data."""

from hltui.sources.sampling.job import SampledJob, market_reserve, market_weight

__all__ = ["SampledJob", "market_reserve", "market_weight"]
