"""A row's scaled features back in the original units: the inverse of the table models' feature pipeline
(`embc.ingest.table_models.RowFeatures`), numbers unscaled and each category the one scored highest."""

from __future__ import annotations

import numpy as np


def to_rows(features, X: np.ndarray) -> list[dict]:
    """Rows (column -> value) from scaled feature rows, columns in the order the rows had them."""
    numeric_pipe = features.pipeline.named_transformers_["numeric"]
    numbers = numeric_pipe[-1].inverse_transform(X[:, :len(features.numeric)]) if features.numeric else None
    categorical = [c for c in features.columns if c not in features.numeric]
    values: dict[str, list] = {c: [float(f"{v:.6g}") for v in numbers[:, n]] for n, c in enumerate(features.numeric)}
    if categorical:
        encoder = features.pipeline.named_transformers_["categorical"][-1]
        start = len(features.numeric)
        for column, categories in zip(categorical, encoder.categories_):
            scores = X[:, start:start + len(categories)]
            values[column] = [categories[i] for i in scores.argmax(axis=1)]
            start += len(categories)
    return [{c: values[c][n] for c in features.columns} for n in range(len(X))]
