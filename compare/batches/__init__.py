"""Prompt sets and batch runs: the library, planning a batch, its matrix."""
