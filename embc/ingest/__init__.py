"""Sources (what is an item, how to read it) and embedders (item batch -> matrix)."""
