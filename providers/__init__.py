"""Provider adapters for Image Provider Compare: plain Python, importable without Django."""
