"""Groups: the Councils and state groups an instance hosts."""
