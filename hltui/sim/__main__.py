"""`python -m hltui.sim --port 8787 [--seed 7]`: run the simulated exchange standalone."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from hltui.sim.server import SimExchange


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m hltui.sim",
                                description="Simulated HyperLiquid info API on localhost.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8787, help="0 picks a free port")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--assets", type=int, default=230)
    p.add_argument("--accounts", type=int, default=500)
    p.add_argument("--plain", action="store_true", help="no awkward names or delisted assets")
    p.add_argument("--unstorable", action="store_true",
                   help="add an asset name ending in a backslash")
    p.add_argument("--weight-limit", type=int, default=1200)
    p.add_argument("--window", type=float, default=60.0, help="rate-limit window, seconds")
    return p.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    sim = SimExchange(seed=args.seed, n_assets=args.assets, n_accounts=args.accounts,
                      awkward=not args.plain, unstorable=args.unstorable,
                      weight_limit=args.weight_limit, window_s=args.window,
                      host=args.host, port=args.port)
    async with sim:
        print(sim.url, flush=True)
        print(f"leaderboard: {sim.leaderboard_url}", flush=True)
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))


if __name__ == "__main__":
    main()
