"""Deterministic process code: the directive and its assignments."""
