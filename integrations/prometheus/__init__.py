"""Prometheus Alertmanager: the webhook parser (see `alertmanager`) and label conventions."""
