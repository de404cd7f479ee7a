"""Fakes that stand in for outside services in tests and benchmarks (real local servers, real data)."""
