"""The cell-dipole model: M = Σ_i Σ_q w_{Z_i, q} x^{λ=1}_{i, q}, linear in the λ = 1, σ = +1
equivariant SOAP power spectrum (featomic) of every atom i, one weight vector per species.

Every feature column is a polar vector that rotates with the structure, and the weights are
scalars, so the prediction rotates with it too.  That is why the fit has no intercept and
no centring (a mean vector is not equivariant); columns are only scaled by their root mean
square.  The ridge strength is chosen by k-fold cross-validation over structures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from petmad.dipoles import DipoleDataError
from petmad.io import atomic_path

SPECIES = (8, 22, 56)  # O, Ti, Ba: every structure gets every column, present or not
# featomic's λ = 1 components are the real spherical harmonics m = -1, 0, 1 ∝ (y, z, x).
SPHERICAL_TO_CARTESIAN = [2, 0, 1]


def lambda_soap_cell_features(frames: list[Atoms], settings: dict[str, Any],
                              chunk: int = 200) -> np.ndarray:
    """(frames, 3 Cartesian components, features): the λ = 1 power spectrum of every atom
    summed over each frame, one block of columns per centre species."""
    import featomic
    from featomic.clebsch_gordan import EquivariantPowerSpectrum
    from metatensor import Labels

    for frame in frames:
        unknown = set(frame.numbers) - set(SPECIES)
        if unknown:
            raise DipoleDataError(f"the dipole model knows Ba, Ti and O; got atomic numbers "
                             f"{sorted(unknown)}")
    expansion = featomic.SphericalExpansion(
        cutoff={"radius": settings["cutoff_A"],
                "smoothing": {"type": "ShiftedCosine", "width": 0.5}},
        density={"type": "Gaussian", "width": settings["atomic_width_A"]},
        basis={"type": "TensorProduct", "max_angular": settings["max_angular"],
               "radial": {"type": "Gto", "max_radial": settings["max_radial"]}},
    )
    calculator = EquivariantPowerSpectrum(expansion, neighbor_types=list(SPECIES))
    keys = Labels(["o3_lambda", "o3_sigma"], np.array([[1, 1]]))
    result = None
    for first in range(0, len(frames), chunk):  # one call per chunk: 10x faster than per frame
        batch = frames[first:first + chunk]
        descriptor = calculator.compute(batch, selected_keys=keys, neighbors_to_properties=True)
        for key, block in descriptor.items():
            values = np.asarray(block.values)
            if result is None:
                result = np.zeros((len(frames), 3, len(SPECIES), values.shape[-1]))
            system = np.asarray(block.samples.column("system")) + first
            np.add.at(result[:, :, SPECIES.index(int(key["center_type"]))], system, values)
    if result is None:
        raise DipoleDataError("no structures to describe")
    return result.reshape(len(frames), 3, -1)[:, SPHERICAL_TO_CARTESIAN, :]


def ridge_fit_equivariant(features: np.ndarray, targets: np.ndarray, regularizer: float
                          ) -> np.ndarray:
    """Weights w minimising Σ |X_f w - M_f|² + λ n |w|² over frames f and components (no
    intercept); ``features`` (frames, 3, q), ``targets`` (frames, 3)."""
    rows = features.reshape(-1, features.shape[-1])
    gram = rows.T @ rows + regularizer * len(rows) * np.eye(rows.shape[1])
    return np.linalg.solve(gram, rows.T @ targets.reshape(-1))


def select_regularizer(features: np.ndarray, targets: np.ndarray, regularizers: list[float],
                       folds: int, seed: int) -> tuple[float, dict[float, float]]:
    """The ridge strength with the lowest k-fold cross-validated RMSE (folds of frames)."""
    order = np.random.default_rng(seed).permutation(len(features))
    folds = min(folds, len(features))
    scores = {}
    for regularizer in regularizers:
        errors = []
        for fold in range(folds):
            held = np.zeros(len(features), bool)
            held[order[fold::folds]] = True
            if held.all():
                continue
            weights = ridge_fit_equivariant(features[~held], targets[~held], regularizer)
            errors.append((features[held] @ weights - targets[held]).ravel() ** 2)
        scores[regularizer] = float(np.sqrt(np.mean(np.concatenate(errors)))) if errors \
            else np.inf
    return min(scores, key=scores.get), scores


@dataclass
class DipoleModel:
    settings: dict[str, Any]
    feature_scale: np.ndarray
    weights: np.ndarray
    metrics: dict[str, float] = field(default_factory=dict)

    def predict_features(self, features: np.ndarray) -> np.ndarray:
        return (features / self.feature_scale) @ self.weights

    def predict(self, frames: list[Atoms]) -> np.ndarray:
        """Cell dipoles (frames, 3) in e·Å."""
        return self.predict_features(lambda_soap_cell_features(frames, self.settings))

    def save(self, path: str | Path) -> None:
        import json

        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, feature_scale=self.feature_scale, weights=self.weights,
                     settings=json.dumps(self.settings), metrics=json.dumps(self.metrics))

    @classmethod
    def load(cls, path: str | Path) -> DipoleModel:
        import json

        data = np.load(path)
        return cls(json.loads(str(data["settings"])), data["feature_scale"], data["weights"],
                   json.loads(str(data["metrics"])))


def fit_dipole_model(features: np.ndarray, targets: np.ndarray, settings: dict[str, Any],
                     seed: int) -> DipoleModel:
    """Scale the columns, choose the ridge strength by cross-validation, refit on all."""
    if len(features) < 2:
        raise DipoleDataError(f"{len(features)} labelled training structure(s): at least 2 are "
                         "needed to cross-validate the dipole model")
    scale = np.sqrt((features ** 2).mean(axis=(0, 1)))
    scale[scale < 1e-12] = 1.0  # columns that vanish everywhere carry no information
    scaled = features / scale
    best, scores = select_regularizer(scaled, targets, settings["regularizers"],
                                      settings["folds"], seed)
    weights = ridge_fit_equivariant(scaled, targets, best)
    model = DipoleModel(dict(settings), scale, weights)
    residual = model.predict_features(features) - targets
    model.metrics = {"regularizer": best, "cv_rmse_eA": scores[best],
                     "train_structures": len(features),
                     "train_rmse_eA": float(np.sqrt(np.mean(residual ** 2)))}
    return model


def train_dipole_model(frames: list[Atoms], settings: dict[str, Any], seed: int
                       ) -> tuple[DipoleModel, dict[str, np.ndarray]]:
    """Fit on the frames whose ``info['split']`` is train or val, test on the test frames
    (labels in ``info['cell_dipole']``, e·Å);
    returns the model and the test labels and predictions (frames × 3, e·Å)."""
    from petmad.dipoles.born_charges import DIPOLE_KEY

    split = np.array([frame.info.get("split", "train") for frame in frames])
    missing = [i for i, frame in enumerate(frames) if DIPOLE_KEY not in frame.info]
    if missing:
        raise DipoleDataError(f"{len(missing)} frame(s) carry no '{DIPOLE_KEY}' label, the first "
                         f"is frame {missing[0]}: label them with 'python -m petmad "
                         "label-dipoles'")
    labels = np.array([np.asarray(frame.info[DIPOLE_KEY], float) for frame in frames])
    features = lambda_soap_cell_features(frames, settings)
    test = split == "test"
    if not test.any():
        raise DipoleDataError("no frame has split=test: the dipole model's test error needs some")
    model = fit_dipole_model(features[~test], labels[~test], settings, seed)
    predicted = model.predict_features(features[test])
    model.metrics.update({
        "test_structures": int(test.sum()),
        "test_rmse_eA": float(np.sqrt(np.mean((predicted - labels[test]) ** 2))),
        "label_std_eA": float(labels.std()),
        "label_sources": sorted({str(f.info.get("dipole_source", "?")) for f in frames})})
    return model, {"reference": labels[test], "predicted": predicted}
