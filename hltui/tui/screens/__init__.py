"""Screens: dashboard, asset detail, help."""
