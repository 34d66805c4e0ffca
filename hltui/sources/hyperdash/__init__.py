"""HyperDash through a real browser: Playwright loads the site's pages and the
collector reads the JSON responses those pages fetch (never the rendered HTML).

Nothing heavy is imported here: `job.HyperDashJob` pulls in Playwright lazily.
"""
