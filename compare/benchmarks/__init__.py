"""Continuous benchmarks: scheduled batches of a team's routes and prompts, their series and drift alerts."""
