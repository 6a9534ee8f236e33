"""Cloud Conductor's own JSON alert format, for sources without a parser (see `generic`)."""
