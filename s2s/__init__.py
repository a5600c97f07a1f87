"""s2s: attention-based recurrent sequence-to-sequence translation."""

__version__ = "0.1.0"
