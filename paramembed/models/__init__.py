"""Backbones, parameter generators, the generated classifier and the gradient-based baselines."""
