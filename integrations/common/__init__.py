"""Helpers shared by the webhook parsers and by the ingest stage's authenticity checks."""
