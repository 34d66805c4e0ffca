"""The sampler's share of the weight budget, on a manual clock: a greedy sampler never
makes a market-data cycle wait, whatever the interval, and uses what is left."""

from __future__ import annotations

import math

import pytest

from hltui.sources.budget import WeightBudget
from hltui.sources.sampling.share import SamplerShare

MARKET = 40  # metaAndAssetCtxs + predictedFundings


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


async def spend(budget: WeightBudget, weight: int, reserve: int = 0) -> None:
    """Charge through `acquire`; it must not have to wait (time is manual here)."""
    assert budget.time_until(weight, reserve) == 0
    before = budget.spent_total
    await budget.acquire(weight, reserve)
    assert budget.spent_total == before + weight


@pytest.mark.parametrize("interval", [60.0, 45.0, 30.0, 10.0, 7.0])
async def test_market_cycles_never_wait_and_the_sampler_takes_the_rest(interval: float) -> None:
    clock = Clock()
    budget = WeightBudget(0.5, 1200, clock=clock, window_s=60.0)
    share = SamplerShare(budget, MARKET, interval, clock=clock)
    duration = 0.4  # each cycle takes a little: period = interval + duration
    next_cycle = clock.t
    start = clock.t
    sampled = 0
    waits = 0
    step = 0.01
    while clock.t - start < 900:
        if clock.t >= next_cycle:
            if budget.time_until(MARKET) > 0:
                waits += 1
            else:
                await spend(budget, MARKET)
            next_cycle = clock.t + duration + interval
        while share.time_until(2) == 0:  # the sampler is always hungry
            share.spend(2)
            await spend(budget, 2, share.reserve)
            if clock.t - start >= 120:
                sampled += 2
        assert budget.used() <= budget.limit
        clock.t = round(clock.t + step, 6)
    assert waits == 0
    k = math.ceil(60.0 / interval)
    assert share.cap == 600 - k * MARKET
    per_window = sampled / ((900 - 120) / 60)
    assert per_window >= 0.97 * share.cap  # it uses its whole share


def test_interval_too_short_for_market_data_starves_sampling() -> None:
    budget = WeightBudget(0.5, 1200, window_s=60.0)
    share = SamplerShare(budget, MARKET, 2.0)
    assert share.starved and share.time_until(2) >= 60.0


def test_without_interval_it_falls_back_to_a_reserve_on_the_total() -> None:
    budget = WeightBudget(0.5, 1200, window_s=60.0)
    share = SamplerShare(budget, MARKET, 0.0)
    assert share.cap is None and share.reserve == MARKET
    forced = SamplerShare(budget, MARKET, 60.0, reserve=80)
    assert forced.cap is None and forced.reserve == 80


async def test_budget_time_until_matches_acquire_rules() -> None:
    clock = Clock()
    budget = WeightBudget(0.5, 1200, clock=clock, window_s=10.0)
    assert budget.time_until(600) == 0 and budget.time_until(601) == 0  # cap >= weight
    await spend(budget, 500)
    clock.t += 4
    await spend(budget, 60)
    assert budget.time_until(40) == 0
    assert budget.time_until(41) == pytest.approx(6.0)  # when the 500 expires
    assert budget.time_until(2, reserve=80) == pytest.approx(6.0)
    budget.penalize(8.0)
    assert budget.time_until(2) == pytest.approx(8.0)
