"""Reference shielding sets: periodic crystal frames carrying per-atom isotropic shieldings.

A set is an extended-XYZ file; every frame has the per-atom array ``shielding_iso_ppm``
(NaN where an atom has no label) and in ``info`` how the labels were made.  The project
computes one by GIAO Hartree-Fock on clusters (:func:`compute_reference_set`); labels from
elsewhere (GIPAW, say) are read the same way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from petmad.io import atomic_path, digest

LABEL = "shielding_iso_ppm"
SHIPPED = Path(__file__).resolve().parent / "data" / "succinic_alpha_giao.extxyz"
SITES = {"O": "H3 (COOH)", "C": "H1/H2 (CH2)"}


def hydrogen_sites(atoms: Atoms) -> np.ndarray:
    """Site class of every atom: carboxylic H (bonded to O), aliphatic H (bonded to C), or
    '' for heavy atoms; the bond partner is the nearest heavy atom (minimum image)."""
    from ase.geometry import get_distances

    heavy = np.flatnonzero(atoms.numbers > 1)
    sites = np.full(len(atoms), "", dtype=object)
    hydrogens = np.flatnonzero(atoms.numbers == 1)
    if len(hydrogens):
        _, distances = get_distances(atoms.positions[hydrogens], atoms.positions[heavy],
                                     cell=atoms.cell, pbc=atoms.pbc)
        partners = atoms.symbols[heavy[np.argmin(distances, axis=1)]]
        sites[hydrogens] = [SITES.get(p, f"H-{p}") for p in partners]
    return sites


def read_reference_set(path: str | Path) -> list[Atoms]:
    """Labelled frames; one clear error when the file cannot serve as training data."""
    from ase.io import read

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"reference shielding set {path} does not exist")
    frames = read(path, index=":")
    unlabelled = [k for k, f in enumerate(frames) if LABEL not in f.arrays]
    if unlabelled:
        raise ValueError(f"{path}: frames {unlabelled[:5]} lack the per-atom array '{LABEL}'")
    if sum(int(np.isfinite(f.arrays[LABEL]).sum()) for f in frames) < 2:
        raise ValueError(f"{path}: fewer than two labelled atoms")
    return frames


def write_reference_set(path: str | Path, frames: list[Atoms]) -> None:
    from ase.io import write

    with atomic_path(path) as tmp:
        write(tmp, frames, format="extxyz")


def label_frame(frame: Atoms, targets: list[int], cluster_radius: float, cutoff: float,
                basis: str, cache: Path, threads: int) -> Atoms:
    """``frame`` with shieldings of every hydrogen made complete by a cluster around one of
    ``targets``; each cluster's result is cached in ``cache`` (a rerun skips it)."""
    from petmad.shielding.clusters import cut_cluster
    from petmad.shielding.giao import isotropic_shieldings

    # The cache key covers everything the result depends on, so a changed frame or level
    # of theory never picks up a stale result.
    key = digest(frame.numbers.tolist(), np.round(frame.positions, 8).tolist(),
                 np.round(frame.cell.array, 8).tolist(), cluster_radius, cutoff, basis)[:16]
    values: dict[int, list[float]] = {}
    for target in targets:
        path = cache / f"target{target}-{key}.json"
        if path.exists():
            result = json.loads(path.read_text())
        else:
            cluster = cut_cluster(frame, target, cluster_radius, cutoff)
            labelled = np.flatnonzero(cluster.complete & (cluster.atoms.numbers == 1))
            shieldings = isotropic_shieldings(cluster.atoms, labelled.tolist(), basis=basis,
                                              threads=threads)
            result = {"crystal_index": cluster.crystal_index[labelled].tolist(),
                      "shielding_ppm": shieldings.tolist(), "cluster_atoms": len(cluster.atoms)}
            with atomic_path(path) as tmp:
                tmp.write_text(json.dumps(result))
        for index, value in zip(result["crystal_index"], result["shielding_ppm"]):
            values.setdefault(index, []).append(value)
    labelled = frame.copy()
    labels = np.full(len(frame), np.nan)
    for index, shieldings in values.items():
        # The same crystal atom seen twice (two periodic images) has one environment.
        labels[index] = np.mean(shieldings)
    labelled.arrays[LABEL] = labels
    return labelled


def choose_targets(frame: Atoms, count: int, rng: np.random.Generator) -> list[int]:
    """Cluster centres: carboxylic and aliphatic hydrogens in turn, at random."""
    sites = hydrogen_sites(frame)
    pools = [rng.permutation(np.flatnonzero(sites == site)).tolist() for site in SITES.values()]
    targets = []
    while len(targets) < count and any(pools):
        for pool in pools:
            if pool and len(targets) < count:
                targets.append(int(pool.pop()))
    return targets


def sample_frames(directory: Path, potential, crystal: Atoms, temperature: float, beads: int,
                  steps: int, count: int, seed: int, progress: bool = True) -> list[Atoms]:
    """``count`` frames: half from classical NVT MD, half single beads of a PIMD run (each
    bead is a configuration distorted by quantum fluctuations)."""
    from ase.io import read

    from petmad.simulate import DynamicsSettings, run_dynamics

    frames: list[Atoms] = []
    halves = {"classical": count // 2, "pimd": count - count // 2}
    for name, wanted in halves.items():
        stride = max(1, steps // wanted)
        settings = DynamicsSettings.model_validate({
            "ensemble": "nvt", "temperature_K": temperature, "timestep_fs": 0.5,
            "steps": stride * wanted, "seed": seed + len(frames),
            "thermostat": {"kind": "pile_l", "tau_fs": 100.0},
            "path_integral": {"beads": beads if name == "pimd" else 1,
                              "bead_trajectories": name == "pimd"},
            "records": {"properties_stride": stride, "trajectory_stride": stride}})
        run_dynamics(directory / name, crystal, [potential], settings, progress=progress,
                     description=f"reference frames, {name}")
        saved = read(directory / name / "trajectory.extxyz", index=":")[1:]  # skip the start
        if name == "pimd":
            beads_positions = np.load(directory / name / "records.npz")["bead_positions"][1:]
            for k, atoms in enumerate(saved):
                atoms.positions = beads_positions[k, k % beads]
        for atoms in saved:
            frames.append(Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=True,
                                info={"sampling": name}))
    return frames


def compute_reference_set(output: str | Path, work: str | Path, potential, settings,
                          cutoff: float, supercell: list[int], seed: int,
                          progress: bool = True) -> dict[str, Any]:
    """The whole recipe: frames by MD/PIMD with ``potential``, clusters, GIAO labels;
    resumable (MD checkpoints, one cached result per cluster)."""
    from tqdm import tqdm

    from petmad.data.crystals import load_crystal

    if settings.cluster_radius_A < cutoff:
        raise ValueError(f"cluster_radius_A ({settings.cluster_radius_A}) must be at least the "
                         f"shielding model's cutoff ({cutoff}): the centre must be labelled")
    work = Path(work)
    crystal = load_crystal("succinic_alpha").repeat(supercell)
    frames = sample_frames(work / "md", potential, crystal, settings.temperature_K,
                           settings.beads, settings.steps, settings.frames, seed, progress)
    rng = np.random.default_rng(seed)
    labelled = []
    for k, frame in enumerate(tqdm(frames, desc="GIAO clusters", disable=not progress)):
        cache = work / f"frame{k:03d}"
        cache.mkdir(parents=True, exist_ok=True)
        targets = choose_targets(frame, settings.clusters_per_frame, rng)
        atoms = label_frame(frame, targets, settings.cluster_radius_A, cutoff, settings.basis,
                            cache, settings.threads)
        atoms.info.update(method=f"GIAO-RHF/{settings.basis} (PySCF) on clusters",
                          cluster_radius_A=settings.cluster_radius_A,
                          environment_cutoff_A=cutoff, frame=k)
        labelled.append(atoms)
    write_reference_set(output, labelled)
    count = sum(int(np.isfinite(a.arrays[LABEL]).sum()) for a in labelled)
    return {"frames": len(labelled), "labels": count, "output": str(output)}
