"""Training and evaluation: configuration, the Lightning module, feature caching, checkpoints,
metrics."""
