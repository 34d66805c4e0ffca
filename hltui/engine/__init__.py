"""The collector: cycles, batches, breakers, retries, stats, events. Never imports Textual."""
