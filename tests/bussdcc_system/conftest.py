"""Fixtures for the appliance tests come from ``bussdcc.testing.pytest_plugin`` (``clock``,
``runtime``, ``message_log``) and the helper modules beside this file."""
