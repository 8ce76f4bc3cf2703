"""Reading sources and writing outputs."""
