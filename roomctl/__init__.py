"""roomctl: the controller for a Vitale Weekcyclus learning room on one Raspberry Pi."""

__version__ = "0.1.0"
