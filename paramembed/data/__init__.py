"""Where tasks come from: procedural glyphs, folder datasets, preprocessing and the episode sampler."""
