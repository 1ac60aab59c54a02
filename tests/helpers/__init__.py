"""Helpers shared by tests: tree builders, snapshots, subprocess scripts."""
