"""The OSDI API (HAL+JSON under /api/v1/)."""
