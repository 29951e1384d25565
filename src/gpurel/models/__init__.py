"""Models: pure functions over numbers and small frames, no I/O."""
