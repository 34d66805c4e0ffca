"""`hltui query ...` and `hltui compress`: read the configured store from a shell.

A readable aligned table by default, `--json` for scripts. Every failure is one
line on stderr and a non-zero exit status, never a traceback:
0 ok, 1 no answer (unknown asset, nothing stored, store down/refusing), 2 bad usage.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any, TextIO

from hltui.config import Settings
from hltui.process.positioning import preferred_source

QUERIES = ("latest-positions", "global-metrics", "asset-history", "liquidation-map")
_FIRST = ("asset", "source", "side", "time")


class QueryFailed(Exception):
    """One line for stderr; exit status 1."""


def _fmt_time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool) or not isinstance(v, int | float):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    a = abs(v)
    if a >= 1_000:  # money and prices: thousands separated, cents
        return f"{v:,.2f}"
    if a >= 1:
        return f"{v:.4f}".rstrip("0").rstrip(".")
    return f"{v:.6g}"


def table(rows: list[dict[str, Any]]) -> str:
    """Aligned columns: identity columns first, then fields in first-seen order;
    numbers right-aligned."""
    if not rows:
        return ""
    cols: list[str] = [c for c in _FIRST if any(c in r for r in rows)]
    for r in rows:
        cols += [k for k in r if k not in cols]
    cells = [[("-" if r.get(c) is None else _fmt(r[c])) for c in cols] for r in rows]
    width = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    right = [any(isinstance(r.get(c), int | float) and not isinstance(r.get(c), bool)
                 for r in rows) for c in cols]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if rj else v.ljust(w)
                         for v, w, rj in zip(values, width, right, strict=True)).rstrip()

    return "\n".join([line(cols), *(line(c) for c in cells)]) + "\n"


# what a trader reads first; every field of every source is in --json
MARKET_COLUMNS = (("mark_price", "mark"), ("change_24h", "change_24h"),
                  ("funding_rate", "funding_1h"), ("open_interest_usd", "oi_usd"),
                  ("volume_24h_usd", "volume_24h_usd"))
POSITION_COLUMNS = (("ls_ratio", "ls_ratio"), ("long_traders", "longs"),
                    ("short_traders", "shorts"), ("coverage", "coverage"))


def positions_overview(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per asset: market data from the official API, positioning from the
    preferred source that has it (named), largest open interest first."""
    by_asset: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        by_asset.setdefault(r["asset"], {})[r.get("source", "")] = r
    out = []
    for asset, sources in by_asset.items():
        market = sources.get("hyperliquid", {})
        line: dict[str, Any] = {"asset": asset}
        line.update({label: market.get(f) for f, label in MARKET_COLUMNS})
        pos_src = preferred_source(sources)
        pos = sources.get(pos_src, {}) if pos_src else {}
        line.update({label: pos.get(f) for f, label in POSITION_COLUMNS})
        line["positioning"] = pos_src
        line["time"] = _fmt_time(max(r["time_ms"] for r in sources.values()))
        out.append(line)
    out.sort(key=lambda r: -(r["oi_usd"] or 0))
    return out


def _series_rows(series: Any) -> list[dict[str, Any]]:
    rows = []
    for i, t in enumerate(series.times_ms):
        row: dict[str, Any] = {"time": _fmt_time(t)}
        row.update({f: vals[i] for f, vals in series.values.items()})
        rows.append(row)
    return rows


async def _answer(settings: Settings, what: str, asset: str | None,
                  hours: float) -> tuple[Any, list[dict[str, Any]], str]:
    """(JSON value, table rows, message when empty)."""
    from hltui.store.factory import make_store

    store = make_store(settings)
    store.warm_serializer = False  # type: ignore[attr-defined]  # reads never serialize
    try:
        await store.open()
        if what in ("asset-history", "liquidation-map"):
            if not asset:
                raise QueryFailed(f"query {what} needs an ASSET")
            known = await store.assets()
            if asset not in known:
                hint = ", ".join(known[:12]) + (" ..." if len(known) > 12 else "")
                raise QueryFailed(f"unknown asset {asset!r}: nothing stored for it in "
                                  f"{store.label}" + (f" (known: {hint})" if known else ""))
        if what == "latest-positions":
            rows = await store.latest_positions()
            return rows, positions_overview(rows), f"no asset_metrics stored yet in {store.label}"
        if what == "liquidation-map":
            rows = await store.liquidation_map(asset or "")
            shown = [{**{k: v for k, v in r.items() if k != "time_ms"},
                      "time": _fmt_time(r["time_ms"])} for r in rows]
            return rows, shown, f"no liquidation levels stored for {asset!r}"
        if what == "asset-history":
            s = await store.asset_history(asset or "", hours)
            empty = f"no asset_metrics for {asset!r} in the last {hours:g} h"
        else:
            s = await store.global_metrics(hours)
            empty = f"no global_metrics in the last {hours:g} h"
        return {"times_ms": s.times_ms, "values": s.values}, _series_rows(s), empty
    finally:
        await store.close()


def run_query(settings: Settings, what: str, asset: str | None = None, hours: float = 24.0,
              as_json: bool = False, out: TextIO | None = None,
              err: TextIO | None = None) -> int:
    """Print one query's answer; returns the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    if what not in QUERIES:
        print(f"hltui: unknown query {what!r}; choose from {', '.join(QUERIES)}", file=err)
        return 2
    if not hours > 0:
        print("hltui: --hours must be greater than zero", file=err)
        return 2
    from hltui.store.base import StoreError

    try:
        value, rows, empty = asyncio.run(_answer(settings, what, asset, hours))
    except QueryFailed as exc:
        print(f"hltui: {exc}", file=err)
        return 1
    except StoreError as exc:
        print(f"hltui: store: {exc}", file=err)
        return 1
    except Exception as exc:  # a bug must still not print a traceback at the user
        print(f"hltui: query failed: {type(exc).__name__}: {exc}", file=err)
        return 1
    if as_json:
        out.write(json.dumps(value, ensure_ascii=False) + "\n")
    elif rows:
        out.write(table(rows))
    if not rows:
        print(f"hltui: {empty}", file=err)
        return 1
    return 0


def run_compress(settings: Settings, out: TextIO | None = None,
                 err: TextIO | None = None) -> int:
    """Compress complete windows now, then apply retention; prints progress."""
    out = out or sys.stdout
    err = err or sys.stderr
    from hltui.store.base import StoreError
    from hltui.store.factory import make_store

    async def main() -> tuple[Any, int, str]:
        store = make_store(settings)
        try:
            await store.open()
            last = [0.0]

            def progress(done: int, total: int) -> None:
                now = time.monotonic()
                if done in (0, total) or now - last[0] >= 0.5:
                    last[0] = now
                    print(f"compressing: {done}/{total} windows", file=out, flush=True)

            report = await store.compress(progress=progress)
            removed = await store.apply_retention()
            return report, removed, store.label
        finally:
            await store.close()

    try:
        report, removed, label = asyncio.run(main())
    except StoreError as exc:
        print(f"hltui: store: {exc}", file=err)
        return 1
    except Exception as exc:
        print(f"hltui: compression failed: {type(exc).__name__}: {exc}", file=err)
        return 1
    wm = f"; compressed up to {_fmt_time(report.watermark_ms)} UTC" if report.watermark_ms else ""
    extra = f"; retention removed {removed} rows" if removed else ""
    print(f"compressed {report.windows} windows, {report.points} points in "
          f"{report.duration_ms:.0f} ms ({label}){wm}{extra}", file=out)
    return 0
