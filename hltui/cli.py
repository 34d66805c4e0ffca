"""Command line: `hltui` (dashboard), `hltui --headless`, `hltui query ...`, `hltui compress`.

Only argparse is imported at start so `hltui --help` stays instant; everything
else loads when a command needs it.
"""

from __future__ import annotations

import argparse
import sys

QUERIES = ("latest-positions", "global-metrics", "asset-history", "liquidation-map")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="PATH", help="TOML settings file (env HLTUI_* wins)")
    p.add_argument("--demo", action="store_true",
                   help="use the simulated exchange on localhost (offline; data kept apart)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hltui",
        description="HyperLiquid perpetuals analytics: a terminal dashboard with an embedded "
        "collector storing into InfluxDB (or an embedded store).",
        epilog="Settings come from --config and HLTUI_* environment variables; see README.",
    )
    _common(parser)
    parser.add_argument("--headless", action="store_true",
                        help="run the collector only, logging to stdout")
    parser.add_argument("--cycles", type=_positive_int, metavar="N",
                        help="run N cycles, flush and exit (0 only if every point was "
                        "written or spooled)")
    parser.add_argument("--interval", metavar="SECONDS", help="seconds between cycles")
    parser.add_argument("--seed", type=int, default=7, help=argparse.SUPPRESS)
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    q = sub.add_parser("query", help="read stored data (table, or --json)")
    _common(q)
    q.add_argument("what", choices=QUERIES)
    q.add_argument("asset", nargs="?", help="asset name (asset-history, liquidation-map)")
    q.add_argument("--hours", type=float, default=24.0, help="history window (default 24)")
    q.add_argument("--json", action="store_true", help="machine-readable output")

    c = sub.add_parser("compress", help="run downsampling (hourly aggregates) now")
    _common(c)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from hltui import __version__

        print(f"hltui {__version__}")
        return 0
    from hltui.config import ConfigError, load_settings

    overrides = {}
    if getattr(args, "interval", None) is not None:
        overrides["interval"] = args.interval
    try:
        settings = load_settings(args.config, **overrides)
    except ConfigError as exc:
        print(f"hltui: {exc}", file=sys.stderr)
        return 2
    if args.command == "query":
        if args.what in ("asset-history", "liquidation-map") and not args.asset:
            parser.error(f"query {args.what} needs an ASSET")
        from hltui.querycmd import run_query

        return run_query(_for_reading(settings, args.demo), args.what, asset=args.asset,
                         hours=args.hours, as_json=args.json)
    if args.command == "compress":
        from hltui.querycmd import run_compress

        return run_compress(_for_reading(settings, args.demo))
    if args.headless:
        import asyncio

        from hltui.headless import run_headless

        return asyncio.run(run_headless(settings, demo=args.demo, cycles=args.cycles,
                                        seed=args.seed))
    from hltui.tui.app import run_app

    return run_app(settings, demo=args.demo, cycles=args.cycles, seed=args.seed)


def _for_reading(settings, demo: bool):
    """`--demo` on query/compress reads the store the demo collector wrote to."""
    if not demo:
        return settings
    from hltui.engine.build import demo_settings

    return demo_settings(settings, settings.hyperliquid_url, settings.leaderboard_url)


if __name__ == "__main__":
    sys.exit(main())
