"""Simulated HyperLiquid + HyperDash on localhost (demo and tests)."""
