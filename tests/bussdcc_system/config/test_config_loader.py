"""Reading a configuration: which file, its bytes and text, and any text at all."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bussdcc_system.config import (
    CONFIG_ENV,
    DEFAULT_CONFIG_PATH,
    Config,
    ConfigError,
    ConfigIssue,
    default_config,
    load_config,
    parse_config,
    resolve_config_path,
)
from tests.bussdcc_system.config.config_helpers import (
    SOURCE,
)


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n", "---\n", "~\n", "null\n"])
def test_empty_document_is_the_defaults(text: str) -> None:
    config = parse_config(text, SOURCE)
    assert config == default_config()
    assert config.source == SOURCE


def test_missing_file_at_default_path_means_defaults(tmp_path: Path) -> None:
    path = tmp_path / "absent" / "config.yaml"
    config = load_config(path)
    assert config == default_config()
    assert config.source == str(path)


def test_missing_file_given_explicitly_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(path, explicit=True)
    assert str(info.value) == f"config.yaml: cannot read {path}: no such file"
    assert info.value.issues == [
        ConfigIssue(str(path), None, "", f"cannot read {path}: no such file")
    ]


def test_directory_is_an_error_even_at_default_path(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.mkdir()
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"config.yaml: cannot read {path}: it is a directory, not a file"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file; see test_config_check")
def test_unreadable_file_says_permission_denied(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("web: {}\n")
    path.chmod(0)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"config.yaml: cannot read {path}: permission denied"


def test_load_reads_a_real_file(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("web:\n  port: 9000\n")
    config = load_config(str(path), explicit=True)
    assert config.web.port == 9000
    assert config.source == str(path)


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(b"web:\n  host: caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == "config.yaml:2: not UTF-8 text: byte 0xe9 cannot be decoded"


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(b"\xef\xbb\xbfweb:\n  port: 9000\n")
    assert load_config(path).web.port == 9000


def test_resolve_config_path() -> None:
    assert resolve_config_path(None, {}) == (DEFAULT_CONFIG_PATH, False)
    assert resolve_config_path(None, {CONFIG_ENV: ""}) == (DEFAULT_CONFIG_PATH, False)
    assert resolve_config_path(None, {CONFIG_ENV: "/srv/c.yaml"}) == (Path("/srv/c.yaml"), True)
    assert resolve_config_path("/x.yaml", {CONFIG_ENV: "/srv/c.yaml"}) == (Path("/x.yaml"), True)
    assert str(DEFAULT_CONFIG_PATH) == "/etc/bussdcc-system/config.yaml"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_any_text_gives_a_config_or_a_config_error(text: str) -> None:
    try:
        parse_config(text, SOURCE)
    except ConfigError as exc:
        assert exc.issues
        assert all(str(issue).startswith("config.yaml") for issue in exc.issues)


_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12))
_keys = st.sampled_from(
    [
        "sampling",
        "web",
        "devices",
        "health",
        "history",
        "disks",
        "logging",
        "port",
        "cpu",
        "kind",
        "pin",
        "id",
        "zone",
        "token",
        "include",
        "mounts",
        "x",
    ]
)
_documents = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=5),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_documents)
def test_any_yaml_structure_gives_a_config_or_a_config_error(document: object) -> None:
    text = yaml.safe_dump(document)
    try:
        config = parse_config(text, SOURCE)
    except ConfigError as exc:
        assert exc.issues
        assert all(issue.line is not None and issue.line >= 1 for issue in exc.issues)
    else:
        assert isinstance(config, Config)


# ---- the size limit: at most 128 KiB are read


def test_a_file_over_the_limit_is_refused_with_both_sizes(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(b"# comment\n" * (2 * 1024 * 1024 // 10))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (
        f"config.yaml: cannot read {path}: it is 2,097,150 bytes, more than the limit of"
        " 131,072 bytes (128 KiB; a configuration is a few KiB)"
    )


def test_the_limit_is_exact(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    at_limit = (b"# " + b"x" * 97 + b"\n") * (131_072 // 100) + b"#" * (131_072 % 100)
    assert len(at_limit) == 131_072
    path.write_bytes(at_limit)
    assert load_config(path) == default_config()
    path.write_bytes(at_limit + b"\n")
    with pytest.raises(ConfigError, match="it is 131,073 bytes, more than the limit"):
        load_config(path)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_an_endless_file_is_refused_after_the_limit() -> None:
    with pytest.raises(ConfigError) as info:
        load_config("/dev/zero", explicit=True)
    assert str(info.value) == (
        "zero: cannot read /dev/zero: it is more than the limit of 131,072 bytes"
        " (128 KiB; a configuration is a few KiB)"
    )


def test_dev_null_is_an_empty_file() -> None:
    assert load_config("/dev/null", explicit=True) == Config(source="/dev/null")
