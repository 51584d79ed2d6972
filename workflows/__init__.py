"""Procedure-specific code: registers, service-task handlers, demo data, benchmarks."""
