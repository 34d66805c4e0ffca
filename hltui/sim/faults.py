"""Fault switches: make the simulated exchange misbehave on demand.

A fault targets a request type (`type="metaAndAssetCtxs"`, `"leaderboard"` for the
leaderboard GET) or every /info request (`type=None`), for the next `count` matching
requests or permanently (`count=None`). Settable from Python and over HTTP; safe to
set from another thread while the server runs.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any

# answer instead of the real payload (first match wins, in this order)
TRANSPORT = ("rate_limit", "http500", "http502", "malformed", "html")
# distort the real payload
PAYLOAD = ("wrong_types", "misaligned", "bad_asset")
DELAY = ("timeout",)
NAMES = DELAY + TRANSPORT + PAYLOAD
# payload faults that only make sense for one request type when none is given
DEFAULT_TYPE = {"misaligned": "metaAndAssetCtxs", "bad_asset": "metaAndAssetCtxs"}
LEADERBOARD = "leaderboard"

# parameter defaults, documented here because tests and the HTTP API use them
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "timeout": {"seconds": 30.0},  # hang this long, then answer normally
    "rate_limit": {"retry_after": 5},  # Retry-After header, seconds
    "html": {"status": 503},  # 200 or 503: an HTML error page either way
    "wrong_types": {"mode": "numbers"},  # "numbers": decimal strings become JSON numbers;
    # "objects": the first list (metaAndAssetCtxs: ctxs) becomes an object
    "misaligned": {"drop": 1},  # ctxs shorter than universe by this many
    "bad_asset": {"asset": None, "field": "markPx", "value": "NaN"},  # asset None = 2nd listed
}


@dataclass
class Fault:
    name: str
    remaining: int | None  # None: permanent
    type: str | None
    params: dict[str, Any] = field(default_factory=dict)
    hits: int = 0

    def matches(self, req_type: str) -> bool:
        target = self.type or DEFAULT_TYPE.get(self.name)
        if target is None:
            return req_type != LEADERBOARD
        return target == req_type

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "remaining": self.remaining, "type": self.type,
                "params": self.params, "hits": self.hits}


class Faults:
    """The active fault switches (at most one per name)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: dict[str, Fault] = {}

    def set(self, name: str, count: int | None = None, type: str | None = None,
            **params: Any) -> Fault:
        """Switch `name` on for the next `count` matching requests (None: until cleared)."""
        if name not in NAMES:
            raise ValueError(f"unknown fault {name!r}; known: {', '.join(NAMES)}")
        if count is not None and (not isinstance(count, int) or count < 1):
            raise ValueError(f"count must be a positive integer or None, got {count!r}")
        unknown = set(params) - set(DEFAULT_PARAMS.get(name, {}))
        if unknown:
            raise ValueError(f"fault {name!r} takes no parameter(s) {sorted(unknown)}")
        merged = {**DEFAULT_PARAMS.get(name, {}), **params}
        _check_params(name, merged)
        fault = Fault(name=name, remaining=count, type=type, params=merged)
        with self._lock:
            self._active[name] = fault
        return fault

    def clear(self, name: str | None = None) -> None:
        with self._lock:
            if name is None:
                self._active.clear()
            else:
                self._active.pop(name, None)

    def active(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_dict() for f in self._active.values()]

    def take(self, req_type: str, names: tuple[str, ...]) -> Fault | None:
        """The first active fault among `names` matching `req_type`; spends one count."""
        with self._lock:
            for name in names:
                f = self._active.get(name)
                if f is None or not f.matches(req_type):
                    continue
                f.hits += 1
                if f.remaining is not None:
                    f.remaining -= 1
                    if f.remaining <= 0:
                        del self._active[name]
                return f
        return None

    def set_from_json(self, spec: Any) -> None:
        """Apply an HTTP control body: one spec, a list, or {"clear": true | name}.

        A spec is {"name", "count"?, "type"?, "params"?: {...}}; parameters may also be
        given at the top level."""
        specs = spec if isinstance(spec, list) else [spec]
        for s in specs:
            if not isinstance(s, dict):
                raise ValueError("a fault spec must be a JSON object")
            if "clear" in s:
                c = s["clear"]
                self.clear(None if c is True else str(c))
                continue
            if "name" not in s:
                raise ValueError("a fault spec needs 'name' (or 'clear')")
            params = s.get("params") or {}
            if not isinstance(params, dict):
                raise ValueError("'params' must be an object")
            # parameters may also sit at the top level: {"name": "timeout", "seconds": 3}
            params = {**params, **{k: v for k, v in s.items()
                                   if k not in ("name", "count", "type", "params")}}
            self.set(str(s["name"]), count=s.get("count"), type=s.get("type"), **params)


def _check_params(name: str, p: dict[str, Any]) -> None:
    if name == "timeout" and not (_num(p["seconds"]) and p["seconds"] >= 0):
        raise ValueError("timeout needs seconds >= 0")
    if name == "rate_limit" and not (_num(p["retry_after"]) and p["retry_after"] >= 0):
        raise ValueError("rate_limit needs retry_after >= 0")
    if name == "html" and p["status"] not in (200, 503):
        raise ValueError("html status must be 200 or 503")
    if name == "wrong_types" and p["mode"] not in ("numbers", "objects"):
        raise ValueError("wrong_types mode must be 'numbers' or 'objects'")
    if name == "misaligned" and not (isinstance(p["drop"], int) and p["drop"] >= 1):
        raise ValueError("misaligned needs drop >= 1")


def _num(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


# -- payload distortions ---------------------------------------------------------------
def to_numbers(obj: Any) -> Any:
    """Every decimal string becomes a JSON number (what a careless API change would do)."""
    if isinstance(obj, dict):
        return {k: to_numbers(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [to_numbers(v) for v in obj]
    if isinstance(obj, str):
        try:
            x = float(obj)
        except ValueError:
            return obj
        return x if math.isfinite(x) else obj
    return obj


def first_list_to_object(obj: Any) -> Any:
    """The ctxs list of metaAndAssetCtxs (or a top-level list) becomes {"0": ..., ...}."""
    if isinstance(obj, list) and len(obj) == 2 and isinstance(obj[1], list):
        return [obj[0], {str(i): v for i, v in enumerate(obj[1])}]
    if isinstance(obj, list):
        return {str(i): v for i, v in enumerate(obj)}
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, list):
                return {**obj, k: {str(i): x for i, x in enumerate(v)}}
    return obj


def misalign(payload: Any, drop: int) -> Any:
    if isinstance(payload, list) and len(payload) == 2 and isinstance(payload[1], list):
        return [payload[0], payload[1][: max(0, len(payload[1]) - drop)]]
    return payload


def bad_asset(payload: Any, asset: str | None, field_name: str, value: Any) -> Any:
    """One asset's ctx gets an invalid value (e.g. markPx "NaN"); the rest stay valid."""
    if not (isinstance(payload, list) and len(payload) == 2):
        return payload
    meta, ctxs = payload
    universe = meta.get("universe", []) if isinstance(meta, dict) else []
    names = [u.get("name") for u in universe]
    if asset is None:
        listed = [u["name"] for u in universe if not u.get("isDelisted")]
        asset = listed[1] if len(listed) > 1 else (listed[0] if listed else None)
    if asset not in names:
        return payload
    i = names.index(asset)
    if i >= len(ctxs) or not isinstance(ctxs[i], dict):
        return payload
    ctxs = list(ctxs)
    ctxs[i] = {**ctxs[i], field_name: value}
    return [meta, ctxs]
