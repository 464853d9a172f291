"""Gibbs surface excess of the elements of a slab (paper Eq. 6).

    Γ_a = (N_a − N_a^B · N / N^B) / S

N_a atoms of element a in the slab, N all atoms; N_a^B and N^B the same counts inside a
bulk region of thickness ``bulk_thickness`` centred on the slab; S the area of both
surfaces (twice the in-plane cell area).  Γ_a is the number of a-atoms per area in excess
of a slab with the interior's composition throughout: positive where a enriches the
surfaces.  The excesses of all elements sum to zero by construction.
"""

from __future__ import annotations

import itertools

import numpy as np

PER_NM2 = 100.0  # atoms/Å² → atoms/nm²


def in_plane_area(cell: np.ndarray) -> float:
    """|a × b| of a cell whose third vector is the slab normal (Å²)."""
    cell = np.asarray(cell, dtype=float)
    return float(np.linalg.norm(np.cross(cell[0], cell[1])))


def gibbs_excess(z: np.ndarray, species: np.ndarray, elements: list[str],
                 area: float | np.ndarray, bulk_thickness: float = 10.0) -> np.ndarray:
    """Γ_a in atoms/Å² for every frame and element: shape (frames, elements).

    ``z``: heights of the atoms, (atoms,) or (frames, atoms), unwrapped along the normal;
    ``species``: the element of every atom; ``area``: the in-plane cell area of every frame
    (one surface).  The bulk region is centred on the mean height of the slab.
    """
    z = np.atleast_2d(np.asarray(z, dtype=float))
    species = np.asarray(species)
    if species.shape != (z.shape[1],):
        raise ValueError(f"{len(species)} species for {z.shape[1]} atoms")
    area = np.broadcast_to(np.asarray(area, dtype=float), (len(z),))
    centre = z.mean(axis=1, keepdims=True)
    bulk = np.abs(z - centre) <= bulk_thickness / 2
    n_bulk = bulk.sum(axis=1)
    if (n_bulk == 0).any():
        raise ValueError(f"no atom lies within the {bulk_thickness} Å bulk region of the slab")
    total = z.shape[1]
    if (n_bulk == total).all():
        raise ValueError(f"the {bulk_thickness} Å bulk region holds the whole slab, so every "
                         "excess is zero by construction: use more layers or a thinner region")
    excess = np.empty((len(z), len(elements)))
    for column, element in enumerate(elements):
        is_element = species == element
        n_bulk_element = (bulk & is_element).sum(axis=1)
        excess[:, column] = (is_element.sum() - n_bulk_element * total / n_bulk) / (2 * area)
    return excess


def window_means(values: np.ndarray, windows: int) -> tuple[np.ndarray, np.ndarray]:
    """Means of ``values`` (frames, ...) over ``windows`` contiguous windows and the index
    of each window's centre: how a time series settles from its start."""
    values = np.asarray(values, dtype=float)
    windows = max(1, min(windows, len(values)))
    edges = np.linspace(0, len(values), windows + 1).astype(int)
    means = np.array([values[a:b].mean(axis=0) for a, b in itertools.pairwise(edges)])
    return means, (edges[:-1] + edges[1:] - 1) / 2
