"""The run engine: rules pick runbooks, the gate decides, runs are persisted state machines."""
