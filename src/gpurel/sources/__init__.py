"""Readers: each input format becomes canonical tables (see ``gpurel.schema``)."""
