"""Microsoft Azure integrations (Azure Monitor alert parser, ARM ids, clients)."""
