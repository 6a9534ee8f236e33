"""Pipeline stages after ingestion: detect, match rules, plan, gate, execute, verify, report."""
