"""Configuration: ``/etc/bussdcc-system/config.yaml`` as typed, frozen, validated values.

One job per module, imported one way only (each module imports only those above it)::

    limits       how much work a file may ask for: size, values, nesting, message length
    wording      how numbers, names and keys are spelt in messages (cut short)
    issues       ConfigIssue, ConfigError, the issue collector (at most 20 listed)
    yaml_nodes   YAML text -> nodes with line numbers, composed within the limits
    validators   the checks a setting can declare (bounds live here, in the declaration)
    settings     setting(...) / section(...): how a field declares itself
    schema       the dataclasses, every setting declared once
    walker       nodes -> Config, driven by the declarations, every issue in one pass
    loader       which file, reading it: resolve_config_path, load_config, parse_config
    diff         ConfigDiff, diff_configs: what a reload applies
    check        the check-config command and its summary
    docs         the reference tables and the shipped commented file, from the schema

This package re-exports the public names (the schema's by its ``__all__``, listed once
there); ``docs`` is a developer tool and is not imported here.
"""

import bussdcc_system.config.schema as schema
from bussdcc_system.config.check import check_config_main, describe_config
from bussdcc_system.config.diff import ConfigDiff, diff_configs
from bussdcc_system.config.issues import ConfigError, ConfigIssue
from bussdcc_system.config.loader import (
    CONFIG_ENV,
    DEFAULT_CONFIG_PATH,
    load_config,
    parse_config,
    resolve_config_path,
)
from bussdcc_system.config.schema import *  # noqa: F403 (the schema's __all__ is the package's)

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG_PATH",
    "ConfigDiff",
    "ConfigError",
    "ConfigIssue",
    "check_config_main",
    "describe_config",
    "diff_configs",
    "load_config",
    "parse_config",
    "resolve_config_path",
]
__all__ += schema.__all__
