"""The engine: what a worker does with one result (claim, call, store), its HTTP clients, its limits and the reaper."""
