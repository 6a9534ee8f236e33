"""Findings rendered for people: Slack threads, Jira tickets, PagerDuty pages."""
