"""Adapters to libraries whose private parts we use: one module per library."""
