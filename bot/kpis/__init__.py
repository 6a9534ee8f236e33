"""Key performance indicators computed from the store (definitions: docs/kpis.md)."""
