"""The ``.stax`` recording file: a versioned SQLite database (docs/recording-format.md)."""

from stax.recording.schema import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION"]
