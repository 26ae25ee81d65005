"""Data collection, schema inference, validation and cleaning."""
