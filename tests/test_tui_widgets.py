"""Widgets on their own, fed by real engine event dataclasses through the model."""

from __future__ import annotations

import random

from textual.app import App, ComposeResult

from hltui.engine.events import LogRecord, SnapshotReady
from hltui.tui.model import DashboardModel
from hltui.tui.widgets.funding_table import extremes
from hltui.tui.widgets.liquidation_bars import LiquidationBars, buckets, pick_source
from hltui.tui.widgets.log_pane import LogPane
from hltui.tui.widgets.markets_table import MarketsTable
from hltui.tui.widgets.sparklines import spark

HOSTILE = ["kPEPE", "@107", "[red]x[/red]", 'we"ird', "A,B=C", "sp ace", "ÄÖÜ"]


def snapshot(cycle: int, n: int = 230, seed: int = 0) -> SnapshotReady:
    rnd = random.Random(seed)
    names = HOSTILE + [f"C{i:03d}" for i in range(n - len(HOSTILE))]
    return SnapshotReady(cycle, {
        name: {"mark_price": rnd.uniform(0.001, 1e5), "funding_rate": rnd.gauss(0, 2e-5),
               "open_interest_usd": rnd.uniform(1e5, 2e9), "volume_24h_usd": rnd.uniform(1, 9e9),
               "change_24h": rnd.gauss(0, 0.05), "ls_ratio": rnd.uniform(0.5, 2)}
        for name in names}, {})


class TableHost(App):
    def compose(self) -> ComposeResult:
        yield MarketsTable()


async def test_table_updates_in_place_and_cursor_follows_its_asset():
    model = DashboardModel()
    app = TableHost()
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.query_one(MarketsTable)
        model.apply(snapshot(1))
        table.sync(model.rows)
        await pilot.pause()
        assert table.row_count == 230
        table.move_cursor(12)
        await pilot.pause()
        chosen = table.selected_asset
        line = table.cursor_row - int(table.scroll_y)
        model.apply(snapshot(2, seed=1))  # every value changes, the order with it
        table.sync(model.rows)
        await pilot.pause()
        assert table.row_count == 230
        assert table.selected_asset == chosen
        assert table.order == sorted(model.rows, key=lambda a: -model.rows[a]["oi"])
        if table.cursor_row >= line:  # room above: the asset stays on its screen line
            assert table.cursor_row - int(table.scroll_y) == line


async def test_sort_filter_and_hostile_names():
    model = DashboardModel()
    app = TableHost()
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.query_one(MarketsTable)
        model.apply(snapshot(1))
        table.sync(model.rows)
        table.set_sort("asset", reverse=False)
        await pilot.pause()
        assert table.order[0] == "@107"
        assert table.cell_text("[red]x[/red]", "asset") == "[red]x[/red]"
        table.set_sort("fund")  # numeric, highest first
        fundings = [model.rows[a]["fund"] for a in table.order]
        assert fundings == sorted(fundings, reverse=True)
        assert table.cycle_sort() == "Fund/yr"
        table.set_filter("c00")
        await pilot.pause()
        assert table.order == [f"C00{i}" for i in range(10)] or set(table.order) == {
            a for a in model.rows if "c00" in a.casefold()}
        assert table.row_count == 10
        table.set_filter("")
        await pilot.pause()
        assert table.row_count == 230


class LogHost(App):
    def compose(self) -> ComposeResult:
        yield LogPane(max_lines=500)


async def test_log_pane_is_bounded_and_never_parses_markup():
    app = LogHost()
    async with app.run_test(size=(100, 20)) as pilot:
        pane = app.query_one(LogPane)
        for batch in range(40):
            pane.write_batch([LogRecord("error" if i % 7 == 0 else "info",
                                        f"batch {batch} line {i} [bold]x[/bold]")
                              for i in range(100)])
            await pilot.pause()
        assert len(pane.lines) <= 500
        assert "[bold]x[/bold]" in pane.lines[-1].text
        assert "batch 39 line 99" in pane.lines[-1].text


def test_funding_extremes_never_overlap():
    rows = {f"A{i}": {"fund": i * 1e-6} for i in range(5)}
    rows["none"] = {"fund": None}
    top, bottom = extremes(rows, 3)
    assert [a for a, _ in top] == ["A4", "A3", "A2"]
    assert [a for a, _ in bottom] == ["A0", "A1"]


class BarsHost(App):
    def compose(self) -> ComposeResult:
        yield LiquidationBars()


async def test_liquidation_bars_use_one_source_and_place_the_mark():
    levels = [{"side": "long", "price": p, "notional_usd": 1e6, "source": "sampled"}
              for p in (90.0, 95.0)]
    levels += [{"side": "short", "price": p, "notional_usd": 2e6, "source": "sampled"}
               for p in (105.0, 110.0)]
    levels += [{"side": "long", "price": 99.0, "notional_usd": float("nan"), "source": "x"}]
    assert pick_source(levels) == "sampled"
    assert set(buckets(levels, "sampled")) == {90.0, 95.0, 105.0, 110.0}
    app = BarsHost()
    async with app.run_test(size=(80, 12)) as pilot:
        bars = app.query_one(LiquidationBars)
        bars.update_map(levels, 100.0)
        await pilot.pause()
        lines = [line.text for line in bars.render_lines(bars.region.reset_offset)]
        text = "\n".join(lines)
        assert text.index("110") < text.index("mark") < text.index("95")
        assert "$2.0M" in text and "$1.0M" in text


def test_spark_one_bar_per_point_and_averaged_down():
    assert spark([], 10).plain == " " * 10
    assert spark([1.0, 1.0], 4).plain == "  ▄▄"  # flat: mid bars, right-aligned
    up = spark([1.0, 2.0, 3.0], 3)
    assert up.plain == "▁▄█" and str(up.style) == "green"
    down = spark([float(100 - i) for i in range(100)], 10)
    assert len(down.plain) == 10 and down.plain[0] == "█" and down.plain[-1] == "▁"
    assert str(down.style) == "red"


def test_global_positioning_comes_from_the_preferred_source():
    from hltui.tui.widgets.global_panel import positioning_globals

    values = {"total_notional_usd": 1e9, "assets": 3,
              "source_sampled": {"long_notional_usd": 5.0, "short_notional_usd": 4.0},
              "source_hyperdash": {"long_notional_usd": 7.0, "short_notional_usd": 2.0}}
    assert positioning_globals(values) == ("hyperdash", values["source_hyperdash"])
    del values["source_hyperdash"]
    assert positioning_globals(values)[0] == "sampled"
    assert positioning_globals({"assets": 3}) == (None, {})
