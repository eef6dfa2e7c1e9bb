"""Rotations, cameras and alignment: pure tensor functions, no model or data imports."""
