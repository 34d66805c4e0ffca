"""Source adapters: fetch raw payloads. They know nothing of storage or UI."""
