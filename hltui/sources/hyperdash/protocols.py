"""Which of the responses a HyperDash page fetches carry what, per protocol.

The site decides its own API calls; an adapter only recognises them (by URL,
method and request body, or by the answer's keys when the request says too
little, e.g. persisted GraphQL queries) and says which need the API key.
"""

from __future__ import annotations

import json
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

UNKNOWN = "?"  # first-party JSON whose kind is only known from its body


class Adapter(Protocol):
    name: str
    kinds: tuple[str, ...]
    labels: dict[str, str]

    def match(self, url: str, method: str, post_data: str | None, asset: str) -> str | None:
        """The kind of response this request will bring for `asset`, UNKNOWN, or None."""

    def kind_from_body(self, body: Any, asset: str) -> str | None: ...

    def needs_key(self, url: str, method: str, post_data: str | None) -> bool: ...


def _gql_request(post_data: str | None) -> tuple[str, dict[str, Any]]:
    try:
        req = json.loads(post_data or "")
    except ValueError:
        return "", {}
    if not isinstance(req, dict):
        return "", {}
    variables = req.get("variables")
    return str(req.get("query") or ""), variables if isinstance(variables, dict) else {}


class GraphqlAdapter:
    """`POST .../graphql`: analytics.perpsTickerPositions and historicalLiquidationLevel."""

    name = "graphql"
    kinds = ("positions", "liquidations")
    labels = {"positions": "perpsTickerPositions", "liquidations": "historicalLiquidationLevel"}
    _ops = {"perpsTickerPositions": "positions", "historicalLiquidationLevel": "liquidations"}

    def match(self, url: str, method: str, post_data: str | None, asset: str) -> str | None:
        query, variables = _gql_request(post_data) if method == "POST" else ("", {})
        coin = variables.get("coin")
        if coin is not None and coin != asset:
            return None  # another asset's answer (a page still loading)
        for op, kind in self._ops.items():
            if op in query:
                return kind
        return UNKNOWN if "graphql" in urlsplit(url).path.lower() else None

    def kind_from_body(self, body: Any, asset: str) -> str | None:
        analytics = ((body or {}).get("data") or {}).get("analytics") if isinstance(body, dict) \
            else None
        if not isinstance(analytics, dict):
            return None
        for op, kind in self._ops.items():
            node = analytics.get(op)
            if isinstance(node, dict) and node.get("coin") == asset:
                return kind
        return None

    def needs_key(self, url: str, method: str, post_data: str | None) -> bool:
        return method == "POST" and "graphql" in urlsplit(url).path.lower()


class RestAdapter:
    """Legacy hyperdash.info: `GET .../summary` and `GET .../liquidation-data-v2?ticker=`."""

    name = "rest"
    kinds = ("summary", "liquidations")
    labels = {"summary": "summary", "liquidations": "liquidation-data-v2"}

    def match(self, url: str, method: str, post_data: str | None, asset: str) -> str | None:
        if method != "GET":
            return None
        parts = urlsplit(url)
        path = parts.path.rstrip("/")
        if path.endswith("/summary"):
            return "summary"
        if "liquidation-data" in path:
            tickers = parse_qs(parts.query).get("ticker", [])
            return "liquidations" if tickers == [asset] else None
        return None

    def kind_from_body(self, body: Any, asset: str) -> str | None:
        return None

    def needs_key(self, url: str, method: str, post_data: str | None) -> bool:
        return "liquidation-data" in urlsplit(url).path


def make_adapter(protocol: str) -> Adapter:
    if protocol == "graphql":
        return GraphqlAdapter()
    if protocol == "rest":
        return RestAdapter()
    raise ValueError(f"unknown HyperDash protocol {protocol!r} (graphql or rest)")
