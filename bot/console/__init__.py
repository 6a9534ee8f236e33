"""The web console at /ui/: server-rendered pages (FastAPI + Jinja2, plain HTML forms, no
JavaScript), signed in with a named API token, acting with that token's role and audit trail."""
