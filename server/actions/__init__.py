"""The only code that writes models and publishes events. It publishes after commit."""
