"""Storage: one `Store` interface, InfluxDB and embedded implementations, spool, lifecycle."""
