"""Grafana: unified alerting webhook parser and HMAC signature check."""
