"""Embedders for table rows, trained on the collection's own rows: `raw` (the scaled features, lifted), `autoencoder`
(a small torch MLP's bottleneck) and `tsne` (a 2-D map lifted into 3-D; non-parametric: it embeds only the
rows it was fitted on).

Every row goes through the same scikit-learn feature pipeline first: numeric columns imputed with the median
and standardised, other columns imputed with the most frequent value and one-hot encoded. The fitted
pipeline and model are saved in the collection's model folder, so later ingests and queries use them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from embc.errors import EmbcError
from embc.ingest.embedders import normalise
from embc.ingest.items import Item, ItemError
from embc.ingest.model_seal import check, seal
from embc.ingest.sources import is_missing

BOTTLENECK = 8
EPOCHS = 300
BATCH = 64


def _as_float(X: np.ndarray) -> np.ndarray:
    return np.asarray(X, dtype=np.float64)


def _as_text(X: np.ndarray) -> np.ndarray:
    return np.where(X == None, None, X.astype(str)).astype(object)  # noqa: E711 (elementwise)


class RowFeatures:
    """Row dicts to a float32 matrix; `fit` learns the columns, their types, and the scikit-learn pipeline."""

    def fit(self, rows: Sequence[dict]) -> "RowFeatures":
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

        # A column with no value in any row says nothing, and the median imputer would drop it from the features.
        self.columns = [c for c in dict.fromkeys(key for row in rows for key in row)
                        if not all(is_missing(row.get(c)) for row in rows)]
        self.numeric = [c for c in self.columns if all(_number(row.get(c)) is not None for row in rows)]
        categorical = [i for i, c in enumerate(self.columns) if c not in self.numeric]
        numeric = [self.columns.index(c) for c in self.numeric]
        self.pipeline = ColumnTransformer([
            ("numeric", make_pipeline(FunctionTransformer(_as_float), SimpleImputer(strategy="median"),
                                      StandardScaler()), numeric),
            ("categorical", make_pipeline(FunctionTransformer(_as_text),
                                          SimpleImputer(missing_values=None, strategy="most_frequent"),
                                          OneHotEncoder(handle_unknown="ignore", sparse_output=False)), categorical),
        ])
        self.width = self.pipeline.fit_transform(self._matrix(rows)).shape[1]
        return self

    def transform(self, rows: Sequence[dict]) -> np.ndarray:
        return np.asarray(self.pipeline.transform(self._matrix(rows)), dtype=np.float32)

    def _matrix(self, rows: Sequence[dict]) -> np.ndarray:
        numeric = set(self.numeric)
        return np.array([[_number(row.get(c)) if c in numeric else category(row.get(c)) for c in self.columns]
                         for row in rows], dtype=object)


def category(value: object) -> object:
    """A value of a column that is not numeric (in JSON's types, as `table_row` keeps it), as the category it is
    one-hot encoded as: a list or a mapping (tags, a nested record) by its JSON text, which numpy would otherwise
    read as more cells."""
    return json.dumps(value, sort_keys=True) if isinstance(value, (list, dict)) else value


def _number(value: object) -> float | None:
    """A value as a number: NaN when missing, None when it is not a number."""
    if value is None:
        return np.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class TableEmbedder:
    """`raw`, `autoencoder` or `tsne` over `RowFeatures`, saved in (and loaded from) `folder`."""

    modality = "row"
    precision = "fp32"

    def __init__(self, name: str, folder: Path, bottleneck: int = BOTTLENECK):
        self.name = name
        self.folder = Path(folder)
        self.weights = str(self.folder)
        self.bottleneck = bottleneck
        self.features: RowFeatures | None = None
        self.encoder = None
        self.fitted: dict[str, np.ndarray] = {}  # tsne: the rows it was fitted on, by content hash
        self.lifted = name == "raw"  # models saved before raw rows were lifted load with False
        if (self.folder / "features.joblib").exists():
            self._load()

    @property
    def dim(self) -> int:
        if self.name == "tsne":
            return 3
        if self.name == "autoencoder":
            return self.bottleneck
        return self.features.width + self.lifted if self.features else 0

    def fit(self, items: Sequence[Item]) -> None:
        """Learn the features (and the autoencoder, or the t-SNE map) from these rows, and save them."""
        import joblib

        rows = [item.values or {} for item in items]
        self.features = RowFeatures().fit(rows)
        X = self.features.transform(rows)
        if self.name == "autoencoder":
            self.encoder = _train_autoencoder(X, self.bottleneck)
        elif self.name == "tsne":
            from sklearn.manifold import TSNE

            if len(X) < 5:
                raise EmbcError("tsne needs at least 5 rows")
            Z = TSNE(2, perplexity=min(30.0, (len(X) - 1) / 3), init="pca", random_state=0).fit_transform(X)
            self.fitted = {item.content_hash: z for item, z in zip(items, _onto_sphere(Z))}
        self.folder.mkdir(parents=True, exist_ok=True)
        joblib.dump({"features": self.features, "bottleneck": self.bottleneck, "lifted": self.lifted},
                    self.folder / "features.joblib")
        if self.encoder is not None:
            import torch

            torch.save(self.encoder.state_dict(), self.folder / "encoder.pt")
        seal(self.folder)

    def prepare(self, item: Item) -> dict:
        """The row's values; ItemError when none of the columns the model learnt has a value in it (its vector
        would be the average row's)."""
        values = item.values or {}
        known = self.features.columns if self.features else []
        if not any(not is_missing(values.get(c)) for c in known):
            shown = ", ".join(known[:6]) + (", ..." if len(known) > 6 else "")
            raise ItemError(f"it has a value in none of the columns the {self.name} model learnt ({shown})")
        return values

    def embed(self, items: Sequence[Item]) -> np.ndarray:
        if self.name == "tsne":
            missing = [item.key for item in items if item.content_hash not in self.fitted]
            if missing:
                raise EmbcError(f"tsne cannot embed rows it was not fitted on ({missing[0]}, ...): t-SNE has no "
                                "transform. Ingest every row again, retraining, or use the autoencoder model")
            return np.stack([self.fitted[item.content_hash] for item in items])
        X = self.features.transform([item.values or {} for item in items])
        if self.encoder is not None:
            import torch

            with torch.inference_mode():
                X = self.encoder(torch.from_numpy(X)).numpy()
        if self.lifted:
            X = _lift(X, len(self.features.columns))
        return normalise(X)

    def _load(self) -> None:
        import joblib

        check(self.folder)
        saved = joblib.load(self.folder / "features.joblib")
        self.features, self.bottleneck = saved["features"], saved["bottleneck"]
        self.lifted = saved.get("lifted", False)
        if self.name == "autoencoder":
            import torch

            self.encoder = _encoder(self.features.width, self.bottleneck)
            self.encoder.load_state_dict(torch.load(self.folder / "encoder.pt", weights_only=True))
            self.encoder.eval()


def _lift(X: np.ndarray, columns: int) -> np.ndarray:
    """Scaled features with a last coordinate of sqrt(columns), the typical length of a row's features (each
    standardised column adds about 1 to its square, each one-hot column exactly 1): a row at every column's mean
    keeps a direction (without it, its vector is all zeros and cannot be stored), and the angle between two rows
    follows their distance instead of their directions from the mean alone."""
    return np.column_stack([X, np.full(len(X), np.sqrt(max(columns, 1)), X.dtype)])


def _onto_sphere(Z: np.ndarray) -> np.ndarray:
    """A 2-D map as unit 3-D vectors (x, y, 1) / norm, after centring and scaling into the unit disc: the
    store compares vectors by angle, and the angles between these keep the map's neighbourhoods (scaling a
    2-D point to unit length would keep only its direction from the centre)."""
    Z = Z - Z.mean(axis=0)
    Z = Z / max(float(np.linalg.norm(Z, axis=1).max()), 1e-12)
    return normalise(np.column_stack([Z, np.ones(len(Z))]))


def _encoder(width: int, bottleneck: int):
    import torch

    hidden = max(16, min(64, 2 * width))
    return torch.nn.Sequential(torch.nn.Linear(width, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, bottleneck))


def _train_autoencoder(X: np.ndarray, bottleneck: int, seed: int = 0):
    """The encoder half of an autoencoder trained to reconstruct X (mean squared error, Adam)."""
    import torch

    torch.manual_seed(seed)
    encoder = _encoder(X.shape[1], bottleneck)
    hidden = encoder[0].out_features
    decoder = torch.nn.Sequential(torch.nn.Linear(bottleneck, hidden), torch.nn.ReLU(),
                                  torch.nn.Linear(hidden, X.shape[1]))
    optimiser = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=1e-2)
    data = torch.from_numpy(X)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(EPOCHS):
        for batch in torch.randperm(len(data), generator=generator).split(BATCH):
            optimiser.zero_grad()
            loss = ((decoder(encoder(data[batch])) - data[batch]) ** 2).mean()
            loss.backward()
            optimiser.step()
    encoder.eval()
    return encoder
