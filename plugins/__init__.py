"""Built-in plugins: each sub-package is one add-on (see docs/plugins.md)."""
