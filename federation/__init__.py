"""Federation between Groundswell nodes (DESIGN §5). Uses only core's public modules."""
