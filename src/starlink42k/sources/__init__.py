"""Clients for the upstream sources; each returns a ``Snapshot`` of one dataset."""
