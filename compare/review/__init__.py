"""Team review of a comparison: thumbs, verdicts, comments, blind mode, the queue and the side-by-side view."""
