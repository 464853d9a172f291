"""The auxiliary shielding model: σ_iso of a hydrogen as a linear function of the SOAP power
spectrum of its environment (featomic), fitted by ridge regression.

Features are centred and scaled by their training standard deviation; the ridge strength is
relative to the mean feature variance (so one grid suits any basis size) and is chosen by
k-fold cross-validation on the training frames.  Folds and the test split are by frame:
hydrogens of one frame are correlated, and a held-out frame is what a new MD frame is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from petmad.io import atomic_path

SPECIES = (1, 6, 8)  # H, C, O: every neighbour pair gets its columns, present or not


def soap_features(frames: list[Atoms], cutoff: float, max_radial: int, max_angular: int,
                  atomic_width: float, center: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Power-spectrum rows of every ``center`` atom of every frame, and their (frame, atom)
    indices."""
    from featomic import SoapPowerSpectrum
    from metatensor import Labels

    calculator = SoapPowerSpectrum(
        cutoff={"radius": cutoff, "smoothing": {"type": "ShiftedCosine", "width": 0.5}},
        density={"type": "Gaussian", "width": atomic_width},
        basis={"type": "TensorProduct", "max_angular": max_angular,
               "radial": {"type": "Gto", "max_radial": max_radial}},
    )
    descriptor = calculator.compute(frames)
    pairs = np.array([[a, b] for a in SPECIES for b in SPECIES if a <= b])
    descriptor = descriptor.keys_to_properties(Labels(["neighbor_1_type", "neighbor_2_type"],
                                                      pairs))
    block = descriptor.block(center_type=center)
    return np.asarray(block.values), np.asarray(block.samples.values)


def ridge_fit(features: np.ndarray, targets: np.ndarray, regularizer: float
              ) -> tuple[np.ndarray, float]:
    """Weights and intercept minimising |X w + b - y|² + λ |w|² (features already scaled)."""
    mean_x, mean_y = features.mean(axis=0), targets.mean()
    centred = features - mean_x
    gram = centred.T @ centred + regularizer * len(features) * np.eye(features.shape[1])
    weights = np.linalg.solve(gram, centred.T @ (targets - mean_y))
    return weights, float(mean_y - mean_x @ weights)


@dataclass
class ShieldingModel:
    settings: dict[str, Any]
    feature_mean: np.ndarray
    feature_scale: np.ndarray
    weights: np.ndarray
    intercept: float
    metrics: dict[str, float] = field(default_factory=dict)

    def features(self, frames: list[Atoms]) -> tuple[np.ndarray, np.ndarray]:
        s = self.settings
        return soap_features(frames, s["cutoff_A"], s["max_radial"], s["max_angular"],
                             s["atomic_width_A"])

    def predict_features(self, features: np.ndarray) -> np.ndarray:
        return ((features - self.feature_mean) / self.feature_scale) @ self.weights + \
            self.intercept

    def predict(self, frames: list[Atoms]) -> tuple[np.ndarray, np.ndarray]:
        """σ_iso (ppm) of every hydrogen of every frame, with its (frame, atom) index."""
        features, samples = self.features(frames)
        return self.predict_features(features), samples

    def save(self, path: str | Path) -> None:
        import json

        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, feature_mean=self.feature_mean, feature_scale=self.feature_scale,
                     weights=self.weights, intercept=self.intercept,
                     settings=json.dumps(self.settings), metrics=json.dumps(self.metrics))

    @classmethod
    def load(cls, path: str | Path) -> ShieldingModel:
        import json

        data = np.load(path)
        return cls(json.loads(str(data["settings"])), data["feature_mean"],
                   data["feature_scale"], data["weights"], float(data["intercept"]),
                   json.loads(str(data["metrics"])))


def fit_scaled(features: np.ndarray, targets: np.ndarray, groups: np.ndarray,
               regularizers: list[float], folds: int = 5) -> tuple[float, dict[float, float]]:
    """The ridge strength with the lowest k-fold (by group) cross-validated RMSE."""
    unique = np.unique(groups)
    folds = min(folds, len(unique))
    scores = {}
    for regularizer in regularizers:
        errors = []
        for fold in range(folds):
            held = np.isin(groups, unique[fold::folds])
            if held.all() or not held.any():
                continue
            weights, intercept = ridge_fit(features[~held], targets[~held], regularizer)
            errors.append((features[held] @ weights + intercept - targets[held]) ** 2)
        scores[regularizer] = float(np.sqrt(np.mean(np.concatenate(errors)))) if errors \
            else np.inf
    return min(scores, key=scores.get), scores


def train_shielding_model(frames: list[Atoms], settings: dict[str, Any], seed: int
                          ) -> tuple[ShieldingModel, dict[str, np.ndarray]]:
    """Fit on the labelled hydrogens of a share of the frames, test on the rest; returns the
    model (refitted on the training frames) and the test predictions for a parity plot."""
    from petmad.shielding.reference import LABEL, hydrogen_sites

    features, samples = soap_features(frames, settings["cutoff_A"], settings["max_radial"],
                                      settings["max_angular"], settings["atomic_width_A"])
    labels = np.array([frames[f].arrays[LABEL][a] for f, a in samples])
    sites = np.array([hydrogen_sites(frames[f])[a] for f, a in samples])
    keep = np.isfinite(labels)
    features, samples, labels, sites = features[keep], samples[keep], labels[keep], sites[keep]
    frame_ids = np.unique(samples[:, 0])
    if len(frame_ids) < 3:
        raise ValueError(f"only {len(frame_ids)} frames carry labels: at least 3 are needed "
                         "to train, cross-validate and test the shielding model")
    rng = np.random.default_rng(seed)
    n_test = max(1, round(settings["test_fraction"] * len(frame_ids)))
    test_frames = rng.choice(frame_ids, n_test, replace=False)
    test = np.isin(samples[:, 0], test_frames)
    mean = features[~test].mean(axis=0)
    scale = features[~test].std(axis=0)
    scale[scale < 1e-12] = 1.0  # constant columns carry no information
    scaled = (features - mean) / scale
    best, scores = fit_scaled(scaled[~test], labels[~test], samples[~test, 0],
                              settings["regularizers"])
    weights, intercept = ridge_fit(scaled[~test], labels[~test], best)
    model = ShieldingModel(dict(settings), mean, scale, weights, intercept)
    predicted = scaled[test] @ weights + intercept
    model.metrics = {
        "regularizer": best, "train_labels": int((~test).sum()), "test_labels": int(test.sum()),
        "test_rmse_ppm": float(np.sqrt(np.mean((predicted - labels[test]) ** 2))),
        "train_rmse_ppm": float(np.sqrt(np.mean((scaled[~test] @ weights + intercept
                                                  - labels[~test]) ** 2))),
        "cv_rmse_ppm": scores[best], "label_std_ppm": float(labels.std())}
    return model, {"reference": labels[test], "predicted": predicted, "site": sites[test]}
