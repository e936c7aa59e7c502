"""Thin HTTP shells: validate input, call an action or a query, render."""
