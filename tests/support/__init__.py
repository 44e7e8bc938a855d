"""Shared test infrastructure (fixtures that start real services), not tests."""
