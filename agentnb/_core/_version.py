"""The package version, one place (the server reports it in GetServerInfo)."""

__version__ = "0.1.0"
