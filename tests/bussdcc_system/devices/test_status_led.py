"""The status LED on gpiozero's MockFactory: the pin's state history for each level.

Blinking runs on the kernel clock, so a SimClock gives an exact history without sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from gpiozero import Device as GPIODevice
from gpiozero.pins.mock import MockFactory

from bussdcc import DeviceError, Runtime, message
from bussdcc.testing import MessageLog, SimClock
from bussdcc_system import messages as m
from bussdcc_system.devices.status_led import StatusLed, StatusLedService

PIN = 17


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    previous = GPIODevice.pin_factory
    GPIODevice.pin_factory = MockFactory()
    yield GPIODevice.pin_factory
    GPIODevice.pin_factory.reset()
    GPIODevice.pin_factory = previous


def states(factory: MockFactory, pin: int = PIN) -> list[bool]:
    return [bool(s.state) for s in factory.pin(pin).states]


@pytest.fixture
def led(factory: MockFactory, runtime: Runtime) -> Iterator[StatusLed]:
    device = StatusLed(pin=PIN)
    device.attach(runtime.ctx)
    yield device
    device.detach()


def test_ok_is_steady_on(led: StatusLed, factory: MockFactory) -> None:
    assert led.show("ok", 0.0)
    for t in (0.5, 1.0, 1.5, 2.0, 10.0):
        led.step(t)
    assert states(factory) == [False, True]
    assert led.pattern == "on"


def test_warning_is_a_slow_blink(led: StatusLed, factory: MockFactory) -> None:
    led.show("warning", 100.0)
    for i in range(1, 41):  # 4 s in 0.1 s steps
        led.step(100.0 + i * 0.1)
    assert states(factory) == [False, True, False, True, False, True]
    assert led.pattern == "slow_blink"


def test_critical_is_a_fast_blink(led: StatusLed, factory: MockFactory) -> None:
    led.show("critical", 100.0)
    for i in range(1, 11):  # 1 s in 0.1 s steps: on .2, off .2, on .2, off .2, on .2
        led.step(100.0 + i * 0.1)
    assert states(factory) == [False, True, False, True, False, True, False]
    assert led.pattern == "fast_blink"


def test_detach_turns_it_off_and_frees_the_pin(
    factory: MockFactory, runtime: Runtime, message_log: MessageLog
) -> None:
    device = StatusLed(pin=PIN)
    device.attach(runtime.ctx)
    device.show("ok", 0.0)
    device.detach()
    assert states(factory) == [False, True, False]
    assert device.led is None and device.pattern == "off"
    again = StatusLed("again", pin=PIN)  # the pin is free again
    again.attach(runtime.ctx)
    again.detach()
    assert [(x.pattern, x.level) for x in message_log.of_type(m.StatusLedChanged)] == [
        ("on", "ok"),
        ("off", None),
    ]


def test_active_low_inverts_the_pin(factory: MockFactory, runtime: Runtime) -> None:
    device = StatusLed(pin=PIN, active_high=False)
    device.attach(runtime.ctx)  # off = high
    device.show("ok", 0.0)  # on = low
    device.detach()  # off = high
    assert states(factory) == [False, True, False, True]


def test_same_level_twice_is_no_change(
    led: StatusLed, factory: MockFactory, message_log: MessageLog
) -> None:
    assert led.show("warning", 0.0)
    assert not led.show("warning", 0.5)
    assert len(message_log.of_type(m.StatusLedChanged)) == 1


def test_pin_in_use(factory: MockFactory, runtime: Runtime, led: StatusLed) -> None:
    other = StatusLed("other", pin=PIN)
    with pytest.raises(DeviceError, match=r"^GPIO17 is already in use by another device$"):
        other.attach(runtime.ctx)


def test_no_pin_factory_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, runtime: Runtime, message_log: MessageLog
) -> None:
    # What plain Debian does: gpiozero finds no usable pin factory (BadPinFactory).
    previous = GPIODevice.pin_factory
    GPIODevice.pin_factory = None
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "no-such-factory")
    try:
        device = StatusLed(pin=PIN)
        runtime.attach_device(device)
        runtime.boot()
    finally:
        GPIODevice.pin_factory = previous
    [failed] = message_log.of_type(message.DeviceFailed)
    assert failed.kind == "status_led"
    assert failed.error.startswith(
        "no GPIO pin factory available: install python3-lgpio (Raspberry Pi OS has it)"
    )
    assert not device.online


def test_explicit_pin_factory(runtime: Runtime) -> None:
    own = MockFactory()
    try:
        device = StatusLed(pin=4, pin_factory=own)
        device.attach(runtime.ctx)
        device.show("critical", 0.0)
        device.detach()
        assert [bool(s.state) for s in own.pin(4).states] == [False, True, False]
    finally:
        own.reset()


# -- driven by health messages through the service, in simulated time ------------------------


def boot_with_led(runtime: Runtime, clock: SimClock, **kwargs: Any) -> StatusLed:
    device = StatusLed(pin=PIN, **kwargs)
    runtime.attach_device(device)
    runtime.register_service(StatusLedService(device))
    runtime.boot()
    clock.settle()
    return device


def test_service_follows_health(
    factory: MockFactory, clock: SimClock, runtime: Runtime, message_log: MessageLog
) -> None:
    device = boot_with_led(runtime, clock)
    assert states(factory) == [False]  # no health yet: off
    runtime.emit(m.health_changed("ok", None, ()))
    clock.advance(3.0)
    assert states(factory) == [False, True]
    factory.pin(PIN).clear_states()
    runtime.emit(m.health_changed("warning", "ok", ("x",)))
    clock.advance(4.05)
    assert states(factory) == [True, False, True, False, True]
    factory.pin(PIN).clear_states()
    runtime.emit(m.health_changed("critical", "warning", ("y",)))
    clock.advance(0.9)
    assert states(factory) == [True, False, True, False, True]
    runtime.shutdown()
    assert states(factory)[-1] is False
    assert device.led is None
    assert [x.pattern for x in message_log.of_type(m.StatusLedChanged)] == [
        "on",
        "slow_blink",
        "fast_blink",
        "off",
    ]


def test_service_shows_the_level_already_in_state(
    factory: MockFactory, clock: SimClock, runtime: Runtime
) -> None:
    runtime.state.set("system.health", {"level": "critical", "reasons": []})
    boot_with_led(runtime, clock)
    clock.advance(1.0)
    assert states(factory)[:6] == [False, True, False, True, False, True]


def test_test_pattern_blinks_then_returns_to_health(
    factory: MockFactory, clock: SimClock, runtime: Runtime, message_log: MessageLog
) -> None:
    boot_with_led(runtime, clock)
    runtime.emit(m.health_changed("ok", None, ()))
    clock.advance(1.0)
    factory.pin(PIN).clear_states()
    runtime.emit(m.LedTestRequested(seconds=2.0, requested_by="127.0.0.1"))
    clock.advance(2.05)  # (already on) 0.5 s on / 0.5 s off for 2 s, then steady on again
    assert states(factory) == [True, False, True, False, True]
    # A health change during the test is remembered and shown when the test ends.
    runtime.emit(m.LedTestRequested(seconds=1.0, requested_by="127.0.0.1"))
    runtime.emit(m.health_changed("warning", "ok", ("x",)))
    clock.advance(1.05)
    clock.advance(1.0)
    assert [x.pattern for x in message_log.of_type(m.StatusLedChanged)][-4:] == [
        "test",
        "on",
        "test",
        "slow_blink",
    ]
