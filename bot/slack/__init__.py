"""Slack as the bot uses it: slash commands, interactive actions, thread replies and the socket-mode
listener. The wire (signing, the Web API client) is reached through `integrations.slack`."""
