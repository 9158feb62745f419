"""Data: the FaceSet format, the embedded synthetic engine, real-data adapters."""
