"""Clustering: algorithms, the recluster job, evaluation, cluster descriptions and 2-D projection."""
