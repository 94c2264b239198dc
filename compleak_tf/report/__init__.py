"""Tables and plots built from saved per-example attack scores."""
