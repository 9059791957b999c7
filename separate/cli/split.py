"""`separate split` (being written)."""
