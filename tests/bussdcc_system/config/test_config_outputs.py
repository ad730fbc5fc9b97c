"""The ``mqtt:`` and ``notifications:`` sections: defaults, validation, the secrets on reload."""

from __future__ import annotations

from bussdcc_system.config import default_config, diff_configs
from bussdcc_system.config.schema import MqttConfig, NotificationsConfig, http_url, mqtt_topic
from tests.bussdcc_system.config.config_helpers import errors, parse


def test_both_are_off_by_default() -> None:
    config = default_config()
    assert config.mqtt == MqttConfig()
    assert not config.mqtt.enabled
    assert (config.mqtt.port, config.mqtt.topic) == (1883, None)
    assert config.mqtt.discovery_prefix == "homeassistant"
    assert (config.notifications.ntfy_url, config.notifications.webhook_url) == (None, None)


def test_four_lines_for_home_assistant() -> None:
    config = parse(
        """\
        mqtt:
          enabled: true
          host: homeassistant.local
          username: bussdcc
          password_file: /etc/bussdcc-system/mqtt-password
        """
    )
    assert config.mqtt == MqttConfig(
        enabled=True,
        host="homeassistant.local",
        username="bussdcc",
        password_file="/etc/bussdcc-system/mqtt-password",
    )


def test_mistakes_are_named() -> None:
    assert errors(
        """\
        mqtt:
          port: 0
          password_file: relative/path
          topic: "pis/+/state"
          discovery_prefix: ""
          interval: 0
          tls: maybe
        notifications:
          ntfy_url: ntfy.sh/topic
          webhook_url: "http://hooks.example/ x"
        """
    ) == [
        "config.yaml:2: mqtt.port: expected an integer 1-65535, got 0",
        "config.yaml:3: mqtt.password_file: expected a file (an absolute path), got"
        " 'relative/path'",
        "config.yaml:4: mqtt.topic: expected an MQTT topic without wildcards like"
        " 'bussdcc-system/pi', got 'pis/+/state'",
        "config.yaml:5: mqtt.discovery_prefix: expected an MQTT topic without wildcards, got ''",
        "config.yaml:6: mqtt.interval: expected a number of seconds >= 1 and <= 86400, got 0",
        "config.yaml:7: mqtt.tls: expected true or false, got 'maybe'",
        "config.yaml:9: notifications.ntfy_url: expected an http:// or https:// URL, got"
        " 'ntfy.sh/topic'",
        "config.yaml:10: notifications.webhook_url: expected an http:// or https:// URL, got"
        " 'http://hooks.example/ x'",
    ]


def test_a_password_needs_a_user_and_a_ca_needs_tls() -> None:
    assert errors("mqtt:\n  password_file: /etc/pw\n  ca_file: /etc/ca.pem\n") == [
        "config.yaml:2: mqtt.password_file: needs mqtt.username (a password goes with a user name)",
        "config.yaml:3: mqtt.ca_file: needs mqtt.tls: true (the CA checks the broker's TLS"
        " certificate)",
    ]
    ok = parse("mqtt:\n  username: u\n  password_file: /etc/pw\n  tls: true\n  ca_file: /ca\n")
    assert (ok.mqtt.username, ok.mqtt.tls, ok.mqtt.ca_file) == ("u", True, "/ca")


def test_topics_and_urls() -> None:
    assert mqtt_topic("bussdcc-system/pi-kitchen") == "bussdcc-system/pi-kitchen"
    for bad in ("", "/a", "a/", "a/#", "a/+/b", "a\0b", "x" * 1025):
        assert mqtt_topic(bad) is None, bad
    assert http_url("https://ntfy.sh/pi") == "https://ntfy.sh/pi"
    assert http_url("http://127.0.0.1:8080/hook?x=1") == "http://127.0.0.1:8080/hook?x=1"
    for bad in ("ntfy.sh/pi", "ftp://host/x", "https://", "http://[::1/x", "http://a b/"):
        assert http_url(bad) is None, bad


def test_notification_urls_are_secrets_on_reload() -> None:
    old = default_config()
    new = parse(
        """\
        notifications:
          ntfy_url: https://ntfy.sh/secret-topic-name
          webhook_url: https://hooks.example/T0KEN
          min_interval: 300
        """
    )
    lines = diff_configs(old, new).describe()
    assert lines == [
        "notifications.ntfy_url: set",
        "notifications.webhook_url: set",
        "notifications.min_interval: 60 -> 300",
    ]
    assert "secret-topic-name" not in repr(new.notifications)
    assert "T0KEN" not in repr(new)
    assert NotificationsConfig().min_interval == 60.0


def test_mqtt_changes_are_a_diff() -> None:
    new = parse("mqtt:\n  enabled: true\n  host: broker.lan\n")
    diff = diff_configs(default_config(), new)
    assert diff.mqtt_changed == {"enabled": (False, True), "host": ("localhost", "broker.lan")}
    assert diff.describe() == [
        "mqtt.enabled: false -> true",
        "mqtt.host: 'localhost' -> 'broker.lan'",
    ]
