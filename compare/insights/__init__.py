"""What the history says: the leaderboard and its rollups, what changed between runs, exports."""
