"""Server-rendered pages, grouped by who may see them."""
