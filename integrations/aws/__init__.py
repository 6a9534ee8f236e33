"""Amazon Web Services integrations (alarm/event parsers, SNS signatures, clients)."""
