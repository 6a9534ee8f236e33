"""Who may do what: roles, the one authorization decision, and where each entry point gets its
principal (Slack user, API token, CLI user). See docs/security.md, "Roles and permissions"."""
