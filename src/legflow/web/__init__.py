"""The web dashboard: a FastAPI server (REST under ``/api/v1``, a WebSocket for live sessions) and
plain HTML and JavaScript pages shipped in ``static/`` (no build step, works offline)."""
