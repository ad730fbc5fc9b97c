"""bussdcc-system: a Raspberry Pi health appliance on the bussdcc event kernel."""

__version__ = "0.1.0"
