"""The throttling flag declaration against the firmware's documented bits and every layer
that reads it: the message, the device's decoding, health, the dashboard, episodes."""

from __future__ import annotations

import dataclasses

import pytest

from bussdcc_system import messages as m
from bussdcc_system import throttling_flags as tf

FIRMWARE_BITS = {
    # From the Raspberry Pi documentation of `vcgencmd get_throttled`.
    0: "under_voltage",
    1: "freq_capped",
    2: "throttled",
    3: "soft_temp_limit",
    16: "under_voltage_occurred",
    17: "freq_capped_occurred",
    18: "throttled_occurred",
    19: "soft_temp_limit_occurred",
}


@pytest.mark.parametrize(("bit", "field"), sorted(FIRMWARE_BITS.items()))
def test_each_documented_bit_decodes_to_its_field_alone(bit: int, field: str) -> None:
    assert tf.BITS[field] == bit
    assert tf.decode(1 << bit) == {name: name == field for name in tf.FIELDS}


def test_the_other_bits_mean_nothing() -> None:
    unused = 0xFFFFFFFF & ~sum(1 << bit for bit in FIRMWARE_BITS)
    assert not any(tf.decode(unused).values())
    assert all(tf.decode(0xF000F).values())


def test_each_flag_has_a_now_bit_and_its_since_boot_twin() -> None:
    for flag in tf.FLAGS:
        assert FIRMWARE_BITS[flag.bit] == flag.field
        assert FIRMWARE_BITS[flag.occurred_bit] == flag.occurred_field
    assert set(tf.FIELDS) == set(FIRMWARE_BITS.values())


def test_the_message_carries_the_declared_fields_in_order() -> None:
    names = [f.name for f in dataclasses.fields(m.ThrottlingUpdated)]
    assert names == ["device", "source", "raw", *tf.FIELDS, "changed"]
    assert m.THROTTLING_FLAGS == tf.FIELDS
    msg = m.throttling_updated(
        device="t", source="vcgencmd", raw=0x40004, flags=tf.decode(0x40004), changed=()
    )
    assert {k for k, v in msg.flags().items() if v} == {"throttled", "throttled_occurred"}


def test_words_are_there_and_tell_the_flags_apart() -> None:
    for words in ("now_words", "past_words", "health_reason"):
        texts = [getattr(flag, words) for flag in tf.FLAGS]
        assert all(texts) and len(set(texts)) == len(texts), words
    assert tf.UNDER_VOLTAGE.health_level == "critical"
    assert {f.health_level for f in tf.FLAGS if f is not tf.UNDER_VOLTAGE} == {"warning"}
    assert tf.past_words("throttled") == "throttling"
    assert tf.past_words("fan_stopped") == "fan stopped"


def test_several_devices_merge_into_one_reading() -> None:
    vcgencmd = {**dict.fromkeys(tf.FIELDS, False), "raw": 0, "source": "vcgencmd"}
    hwmon = {**dict.fromkeys(tf.FIELDS), "under_voltage": True, "source": "hwmon"}
    merged = tf.merged_reading({"b-vcgencmd": vcgencmd, "a-hwmon": hwmon})
    assert merged["under_voltage"] is True and merged["source"] == "hwmon"
    assert tf.merged_reading(vcgencmd) == vcgencmd
    assert tf.merged_reading({}) == {} and tf.merged_reading(None) == {}
