"""Test and benchmark helpers that ship with the package (a loopback judge server)."""
