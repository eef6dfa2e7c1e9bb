"""Data: motion capture -> pose banks (later: synthetic images, dataset formats, augmentation)."""
