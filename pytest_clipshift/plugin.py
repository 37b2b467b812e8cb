"""pytest wiring for clipshift (filled in by the plugin issue)."""
