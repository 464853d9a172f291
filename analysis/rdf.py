"""Radial distribution functions with mdtraj, and their block errors.

g_ab(r) is the histogram of a–b distances (minimum image) divided by the number of pairs
times the volume of each spherical shell over the cell volume, so that uncorrelated
positions give g = 1 (mdtraj's normalisation, as in cpptraj and gromacs).
"""

from __future__ import annotations

import itertools

import numpy as np


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


def block_radial_distribution(positions: np.ndarray, cells: np.ndarray, symbols: list[str],
                              pair: tuple[str, str], r_max: float, bins: int,
                              n_blocks: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """g(r) over all frames with the standard error of its ``n_blocks`` contiguous block
    estimates (NaN errors with fewer frames than two blocks need)."""
    positions = np.asarray(positions)
    cells = np.broadcast_to(np.asarray(cells, dtype=float), (len(positions), 3, 3))
    r, g = radial_distribution(positions, cells, symbols, pair, r_max, bins)
    n_blocks = min(n_blocks, len(positions))
    if n_blocks < 2:
        return r, g, np.full_like(g, np.nan)
    edges = np.linspace(0, len(positions), n_blocks + 1).astype(int)
    blocks = np.array([radial_distribution(positions[a:b], cells[a:b], symbols, pair, r_max,
                                           bins)[1] for a, b in itertools.pairwise(edges)])
    return r, g, blocks.std(axis=0, ddof=1) / np.sqrt(n_blocks)
