"""The version of cibench (read by setup.cfg and by modules that stamp what they write)."""

__version__ = "0.1.0"
