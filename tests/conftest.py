"""Fixtures every tier shares come from bussdcc.testing: ``clock`` (a SimClock),
``runtime`` (on it, always shut down) and ``message_log`` (everything its bus delivers).
``pytester`` runs the plugin's own tests."""

pytest_plugins = ["bussdcc.testing.pytest_plugin", "pytester"]
