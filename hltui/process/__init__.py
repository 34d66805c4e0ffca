"""Pure validation and derivation: raw payloads in, records out. No I/O."""
