"""Slack: settings and secrets resolution, and a typed poster over slack_sdk's WebClient."""
