"""Radial distribution functions with mdtraj, per frame for their errors and reweighting.

g_ab(r) is the histogram of a–b distances (minimum image) divided by the number of pairs
times the volume of each spherical shell over the cell volume, so that uncorrelated
positions give g = 1 (mdtraj's normalisation, as in cpptraj and gromacs).
"""

from __future__ import annotations

import numpy as np

from analysis.statistics import Estimate, function_of_means, mean_error


def _trajectory(positions: np.ndarray, cells: np.ndarray, symbols: list[str]):
    """An mdtraj trajectory (nm) of the frames, every atom its own residue-less particle."""
    import mdtraj

    topology = mdtraj.Topology()
    residue = topology.add_residue("UNK", topology.add_chain())
    for symbol in symbols:
        topology.add_atom(symbol, mdtraj.element.get_by_symbol(symbol), residue)
    trajectory = mdtraj.Trajectory(np.asarray(positions, dtype=float) / 10.0, topology)
    trajectory.unitcell_vectors = np.broadcast_to(
        np.asarray(cells, dtype=float), (len(positions), 3, 3)) / 10.0
    return trajectory


def radial_distribution(positions: np.ndarray, cells: np.ndarray, symbols: list[str],
                        pair: tuple[str, str], r_max: float, bins: int
                        ) -> tuple[np.ndarray, np.ndarray]:
    """g(r) of the species ``pair`` over all frames: bin centres (Å) and values.

    ``positions``: (frames, atoms, 3) in Å; ``cells``: (3, 3) or (frames, 3, 3), rows the
    cell vectors in Å.  Pairs of the same species are counted once each.
    """
    import mdtraj

    trajectory = _trajectory(positions, cells, symbols)
    symbols = np.asarray(symbols)
    first, second = np.flatnonzero(symbols == pair[0]), np.flatnonzero(symbols == pair[1])
    if not len(first) or not len(second):
        raise ValueError(f"no {pair[0]}-{pair[1]} pairs among {sorted(set(symbols))}")
    pairs = trajectory.topology.select_pairs(first, second)
    r, g = mdtraj.compute_rdf(trajectory, pairs, r_range=(0.0, r_max / 10.0), n_bins=bins)
    return r * 10.0, g


def frame_radial_distributions(positions: np.ndarray, cells: np.ndarray, symbols: list[str],
                               pair: tuple[str, str], r_max: float, bins: int,
                               per_frame: int = 1, chunk: int = 256
                               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame pieces of g(r): bin centres (Å), h_f(r) = counts / (pairs · shell volume)
    and d_f = 1 / cell volume, each averaged over the ``per_frame`` consecutive
    configurations of a frame (its beads).  g = ⟨h⟩ / ⟨d⟩ over frames is mdtraj's
    normalisation (:func:`radial_distribution`); as averages, the pieces carry the
    statistical error and the reweighting of g."""
    import mdtraj

    positions = np.asarray(positions, dtype=float)
    cells = np.broadcast_to(np.asarray(cells, dtype=float), (len(positions), 3, 3))
    symbols_array = np.asarray(symbols)
    first = np.flatnonzero(symbols_array == pair[0])
    second = np.flatnonzero(symbols_array == pair[1])
    if not len(first) or not len(second):
        raise ValueError(f"no {pair[0]}-{pair[1]} pairs among {sorted(set(symbols))}")
    edges = np.linspace(0.0, r_max, bins + 1)
    shells = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    counts = np.zeros((len(positions), bins))
    pairs = None
    for start in range(0, len(positions), chunk):
        part = slice(start, start + chunk)
        trajectory = _trajectory(positions[part], cells[part], symbols)
        if pairs is None:
            pairs = trajectory.topology.select_pairs(first, second)
        distances = mdtraj.compute_distances(trajectory, pairs) * 10.0  # Å
        index = np.floor(distances / (r_max / bins)).astype(int)
        rows = np.broadcast_to(np.arange(len(distances))[:, None], index.shape)
        keep = index < bins
        counts[part] = np.bincount(rows[keep] * bins + index[keep],
                                   minlength=len(distances) * bins).reshape(-1, bins)
    h = counts / (len(pairs) * shells)
    d = 1.0 / np.abs(np.linalg.det(cells))
    frames = len(positions) // per_frame
    h = h[:frames * per_frame].reshape(frames, per_frame, bins).mean(axis=1)
    d = d[:frames * per_frame].reshape(frames, per_frame).mean(axis=1)
    return 0.5 * (edges[1:] + edges[:-1]), h, d


def radial_distribution_error(h: np.ndarray, d: np.ndarray):
    """g(r) = ⟨h⟩/⟨d⟩ from :func:`frame_radial_distributions` with its autocorrelation-aware
    error and N_eff per bin: the error of the mean of the linearised series (h − g d)/⟨d⟩."""
    g = h.mean(axis=0) / d.mean()
    linear = (h - g * d[:, None]) / d.mean()
    estimate = mean_error(linear)
    return g, estimate.error, estimate.n_eff


# Half-width of the window a first peak's parabola is fitted over: wide enough to average
# the counting noise of fine bins over a few frames, narrow beside the O-O peak's width.
PEAK_HALF_WIDTH_A = 0.15


def parabola_vertex(r: np.ndarray, g: np.ndarray) -> float:
    """Position of the vertex of the least-squares parabola through (r, g), kept within
    the points' range; where the parabola does not open downwards, the highest point."""
    centre = r[len(r) // 2]
    a, b, _ = np.polyfit(r - centre, g, 2)
    if a >= 0:
        return float(r[int(np.argmax(g))])
    return float(np.clip(centre - b / (2 * a), r[0], r[-1]))


def first_peak_position(r: np.ndarray, h: np.ndarray, d: np.ndarray, r_below: float,
                        half_width: float = PEAK_HALF_WIDTH_A) -> Estimate:
    """Position (Å) of the highest peak of g(r) below ``r_below`` from the per-frame pieces
    of :func:`frame_radial_distributions`, with its autocorrelation-aware error: the vertex
    of a parabola fitted to the bins within ``half_width`` of the maximum of the curve
    smoothed over that window, a function of those bins' means (1/⟨d⟩ scales g and
    cancels); the error is NaN when the curve has no maximum inside the window (a plateau,
    a shoulder, or two humps).  A peak that is not symmetric (liquid water's is steeper
    inside) comes out shifted by the same amount for every model: compare positions, not
    the absolute value."""
    m = max(1, round(float(half_width / (r[1] - r[0]))))
    mean = h.mean(axis=0)
    smooth = np.convolve(mean, np.ones(2 * m + 1) / (2 * m + 1), mode="same")
    inside = np.flatnonzero(r < r_below)
    k = int(inside[np.argmax(smooth[inside])])
    k = min(max(k, m), len(r) - 1 - m)
    window = slice(k - m, k + m + 1)
    estimate = function_of_means(lambda means: parabola_vertex(r[window], means), h[:, window])
    curvature = np.polyfit(r[window] - r[k], mean[window], 2)[0]
    if curvature >= 0 or not r[window][0] < estimate.value < r[window][-1]:
        # No maximum inside the window (a plateau, a shoulder, or two humps: the position
        # falls back to the highest bin, and blocks that agree on a bin would claim a zero
        # error): no position to speak of.
        return Estimate(estimate.value, np.nan, estimate.n_eff, estimate.tau)
    return estimate
