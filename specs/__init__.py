"""The bundled specs, shipped as package data."""
