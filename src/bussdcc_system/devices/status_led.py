"""A GPIO status LED that shows overall health where a person can see it.

Steady on = ok, slow blink (1 s on, 1 s off) = warning, fast blink (0.2 s / 0.2 s) =
critical, off = the daemon is not running (or has not evaluated health yet).

Blinking is driven by ``StatusLedService`` on the kernel clock, not by gpiozero's
background thread: the phase is computed from the time since the pattern started, so
the pattern is exact in simulated time and the code needs only ``LED.on/off/close``,
which gpiozero 1.6 and 2.0 share. The service listens to ``system.health.changed``
and, when it starts, shows the level already in state (``system.health.level``).
"""

from __future__ import annotations

import threading
import warnings
from typing import TYPE_CHECKING, Any, Final

from bussdcc import Device, DeviceError, Service
from bussdcc_system import messages as m

if TYPE_CHECKING:
    from bussdcc import Context, Event, Message

PATTERNS: Final[dict[str | None, tuple[str, float | None]]] = {
    "ok": ("on", None),
    "warning": ("slow_blink", 1.0),
    "critical": ("fast_blink", 0.2),
    None: ("off", None),
}
"""Health level -> (pattern name, seconds per half period; None = steady)."""

TEST_PATTERN: Final = ("test", 0.5)
"""``POST /api/led/test``: 0.5 s on / 0.5 s off for the requested seconds, then health again."""

_NO_FACTORY: Final = (
    "no GPIO pin factory available: install python3-lgpio (Raspberry Pi OS has it) "
    "or python3-rpi.gpio; a PC has no GPIO pins"
)


def _gpio_error(pin: int, exc: BaseException) -> DeviceError:
    """Words for why the LED cannot be driven."""
    try:
        from gpiozero.exc import BadPinFactory, GPIOPinInUse, GPIOZeroError
    except ImportError:  # pragma: no cover - gpiozero is a dependency
        return DeviceError(f"cannot drive GPIO{pin}: {exc}")
    if isinstance(exc, BadPinFactory):
        return DeviceError(f"{_NO_FACTORY} ({exc})")
    if isinstance(exc, GPIOPinInUse):
        return DeviceError(f"GPIO{pin} is already in use by another device")
    if isinstance(exc, PermissionError):
        return DeviceError(
            f"no permission to open GPIO{pin}: the user running bussdcc-system must be in "
            "group 'gpio' (and a systemd unit with DevicePolicy= needs "
            "DeviceAllow=char-gpiochip rw)"
        )
    if isinstance(exc, GPIOZeroError | OSError):
        return DeviceError(f"cannot drive GPIO{pin} as an LED: {exc}")
    return DeviceError(f"cannot drive GPIO{pin} as an LED: {exc!r}")


class StatusLed(Device):
    """An LED on BCM pin ``pin``; ``pin_factory`` None = gpiozero's default choice."""

    kind = "status_led"

    def __init__(
        self,
        id: str = "status_led",
        *,
        pin: int,
        active_high: bool = True,
        pin_factory: Any = None,
    ) -> None:
        super().__init__(id)
        self.pin = pin
        self.active_high = active_high
        self.pin_factory = pin_factory
        self.led: Any = None
        self.level: str | None = None
        self.pattern = "off"
        self._half: float | None = None
        self._started = 0.0
        self._lit = False
        self._test_until: float | None = None
        self._lock = threading.RLock()

    # -- Device -----------------------------------------------------------------------

    def connect(self) -> None:
        try:
            from gpiozero import LED
        except ImportError as exc:  # pragma: no cover - gpiozero is a dependency
            raise DeviceError("python3-gpiozero is not installed") from exc
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # PinFactoryFallback chatter
                led = LED(
                    self.pin,
                    active_high=self.active_high,
                    initial_value=False,
                    pin_factory=self.pin_factory,
                )
        except Exception as exc:
            raise _gpio_error(self.pin, exc) from exc
        with self._lock:
            self.led = led
            self.level, self.pattern, self._half, self._lit = None, "off", None, False

    def disconnect(self) -> None:
        with self._lock:
            led, self.led = self.led, None
            was = self.pattern
            self.level, self.pattern, self._half, self._lit = None, "off", None, False
            if led is None:
                return
            try:
                led.off()
            finally:
                led.close()
        if was != "off" and self.ctx is not None:
            self.ctx.emit(m.StatusLedChanged(self.id, self.pin, "off", None))

    # -- showing ----------------------------------------------------------------------

    def _set(self, lit: bool) -> None:
        if lit != self._lit and self.led is not None:
            if lit:
                self.led.on()
            else:
                self.led.off()
            self._lit = lit

    def show(self, level: str | None, now: float) -> bool:
        """Show ``level`` from monotonic time ``now``; True if the pattern changed."""
        pattern, half = PATTERNS.get(level, PATTERNS["critical"])
        with self._lock:
            if self._test_until is not None:  # remember it; shown when the test ends
                self.level = level
                return False
            if self.led is None or (pattern == self.pattern and level == self.level):
                return False
            self.level, self.pattern, self._half, self._started = level, pattern, half, now
            self._set(pattern != "off")
        if self.ctx is not None:
            self.ctx.emit(m.StatusLedChanged(self.id, self.pin, pattern, level))
        return True

    def start_test(self, seconds: float, now: float) -> bool:
        """Blink the test pattern until ``now + seconds``, then show health again."""
        pattern, half = TEST_PATTERN
        with self._lock:
            if self.led is None:
                return False
            self._test_until = now + seconds
            self.pattern, self._half, self._started = pattern, half, now
            self._set(True)
        if self.ctx is not None:
            self.ctx.emit(m.StatusLedChanged(self.id, self.pin, pattern, self.level))
        return True

    def step(self, now: float) -> None:
        """Advance a blink pattern to time ``now`` (a no-op when steady)."""
        with self._lock:
            until = self._test_until
        if until is not None and now >= until:
            with self._lock:
                self._test_until = None
                level = self.level
            self.show(level, now)  # the pattern is "test", so this always applies
            return
        with self._lock:
            half = self._half
            if half is None or self.led is None:
                return
            phase = int((now - self._started) / half + 1e-6)
            self._set(phase % 2 == 0)


class StatusLedService(Service):
    """Drives a ``StatusLed`` from ``system.health.changed``; ticks every ``interval``
    seconds (0.1 by default: fine enough for the 0.2 s fast blink) to blink it."""

    def __init__(self, led: StatusLed, *, interval: float = 0.1, name: str | None = None) -> None:
        self.led = led
        self.interval = interval
        self.name = name or f"device.{led.id}"

    def start(self, ctx: Context) -> None:
        level = ctx.state.get("system.health.level")
        if isinstance(level, str) and self.led.online:
            self.led.show(level, ctx.clock.monotonic())

    def handle_event(self, ctx: Context, evt: Event[Message]) -> None:
        payload = evt.payload
        if isinstance(payload, m.HealthChanged) and self.led.online:
            self.led.show(payload.level, evt.monotonic)
        elif isinstance(payload, m.LedTestRequested) and self.led.online:
            self.led.start_test(payload.seconds, evt.monotonic)

    def tick(self, ctx: Context) -> None:
        if self.led.online:
            self.led.step(ctx.clock.monotonic())


__all__ = ["PATTERNS", "TEST_PATTERN", "StatusLed", "StatusLedService"]
