"""Figures: matplotlib PNGs of clustering runs."""
