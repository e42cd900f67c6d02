"""Automatic checks on every stored image: text read back by OCR, spec checks on pixels."""
