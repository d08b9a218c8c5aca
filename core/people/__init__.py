"""Members: the people an instance organizes with."""
