"""Inference cost per MD step against system size (paper Fig. 3, and the project's own
performance benchmark).

One MD step costs one evaluation of energy, forces and stress.  For every material and
size, every model is timed in turn (side by side, so ratios between models are meaningful
on a noisy machine): ``warmup`` evaluations that are not timed (first-call compilation,
allocator growth), then ``repeats`` timed ones, each after a tiny displacement so no
calculator can serve a cached result.  Reported: median and interquartile spread, and the
peak memory of the process so far (CPU: the resident-set high-water mark, which only grows,
so with sizes in increasing order it is the peak at that size; GPU: torch's peak
allocation at that point).  A point that runs out of memory is recorded as such and larger
sizes of that model and material are skipped, as is every size whose cost, extrapolated
linearly in atoms from the model's previous point, exceeds ``max_seconds_per_step``.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes

from petmad.config import SpeedSettings
from petmad.io import reading

# Name suffix of a model's direct-force variant (energy and forces from one forward pass).
DIRECT_SUFFIX = "-nc"

# Units that are repeated to reach a size: fcc Al (a = 4.05 Å), diamond C (a = 3.567 Å),
# and a box of 8 random H2O at 997 kg/m³ (liquid-like density; timing only).
WATER_UNIT_MOLECULES = 8


def material_unit(material: str, seed: int = 0) -> Atoms:
    if material == "aluminium":
        return bulk("Al", "fcc", a=4.05, cubic=True)
    if material == "diamond":
        return bulk("C", "diamond", a=3.567, cubic=True)
    if material == "water":
        from petmad.data.systems import water_box

        return water_box(WATER_UNIT_MOLECULES, 997.0, np.random.default_rng(seed))
    raise ValueError(f"unknown material {material!r}")


def material_structure(material: str, target_atoms: int, unit: Atoms | None = None) -> Atoms:
    """The unit repeated n × n × n with n³ × len(unit) closest to ``target_atoms``."""
    unit = unit if unit is not None else material_unit(material)
    repeats = max(1, round((target_atoms / len(unit)) ** (1 / 3)))
    return unit.repeat((repeats, repeats, repeats))


def is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or "out of memory" in str(exc).lower()


def peak_memory_mb(device: str) -> float:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.max_memory_allocated() / 2 ** 20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def time_step(calculator: Calculator, atoms: Atoms, warmup: int, repeats: int,
              properties: tuple[str, ...] = ("energy", "forces", "stress")) -> np.ndarray:
    """Wall times (s) of ``repeats`` evaluations after ``warmup`` untimed ones (of the
    ``properties`` the calculator has: a direct-force head may give no stress)."""
    properties = tuple(p for p in properties if p in calculator.implemented_properties)
    atoms = atoms.copy()
    rng = np.random.default_rng(0)
    times = []
    for index in range(warmup + repeats):
        atoms.positions += rng.normal(0.0, 1e-4, atoms.positions.shape)
        start = time.perf_counter()
        calculator.calculate(atoms, list(properties), all_changes)
        if index >= warmup:
            times.append(time.perf_counter() - start)
    return np.array(times)


def speed_rows(calculators: dict[str, Callable[[], Calculator]], settings: SpeedSettings,
               device: str = "cpu", progress: bool = True) -> list[dict]:
    """One row per (material, size, model): status ok / oom / too slow / error."""
    from tqdm import tqdm

    built = {name: factory() for name, factory in calculators.items()}
    rows = []
    points = [(m, n) for m in settings.materials for n in sorted(settings.sizes)]
    stopped: dict[tuple[str, str], str] = {}
    last: dict[tuple[str, str], tuple[float, int]] = {}  # (median s, atoms) of the last point
    units = {material: material_unit(material) for material in settings.materials}
    seen: set[tuple[str, int]] = set()
    for material, target in tqdm(points, desc="speed", disable=not progress):
        atoms = material_structure(material, target, units[material])
        if (material, len(atoms)) in seen:  # two targets rounding to one supercell
            continue
        seen.add((material, len(atoms)))
        for name, calculator in built.items():
            row = {"material": material, "target_atoms": target, "natoms": len(atoms),
                   "model": name}
            if (name, material) in stopped:
                rows.append({**row, "status": stopped[(name, material)]})
                continue
            if (name, material) in last:  # cost grows at least linearly with size
                seconds, atoms_then = last[(name, material)]
                if seconds * len(atoms) / atoms_then > settings.max_seconds_per_step:
                    stopped[(name, material)] = "skipped: predicted slower than the limit"
                    rows.append({**row, "status": stopped[(name, material)]})
                    continue
            if device.startswith("cuda"):
                import torch

                torch.cuda.reset_peak_memory_stats()
            try:
                times = time_step(calculator, atoms, settings.warmup, settings.repeats)
            except Exception as exc:  # one model failing must not sink the benchmark
                status = "oom" if is_out_of_memory(exc) else f"error: {exc}"
                if device.startswith("cuda"):
                    torch.cuda.empty_cache()  # the next model must not inherit the wreck
                rows.append({**row, "status": status})
                stopped[(name, material)] = "skipped after " + status.split(":")[0]
                continue
            low, median, high = np.percentile(times, [25, 50, 75])
            rows.append({**row, "status": "ok", "median_s": float(median),
                         "q25_s": float(low), "q75_s": float(high),
                         "us_per_atom": float(median / len(atoms) * 1e6),
                         "peak_memory_mb": peak_memory_mb(device)})
            last[(name, material)] = (float(median), len(atoms))
    return rows


def direct_force_variants(models: dict[str, str], device: str = "cpu"
                          ) -> dict[str, Callable[[], Calculator]]:
    """A direct-force calculator factory ("<name>-nc") for every exported model (.pt) with a
    ``non_conservative_forces`` head."""
    from metatomic.torch import load_atomistic_model

    from petmad.simulate.potentials import DirectForceCalculator

    variants = {}
    for name, path in models.items():
        if not str(path).endswith(".pt"):
            continue
        with reading(path, "exported model"):
            outputs = load_atomistic_model(str(path)).capabilities().outputs
        if "non_conservative_forces" in outputs:
            stress = "non_conservative_stress" in outputs
            variants[name + DIRECT_SUFFIX] = (
                lambda path=path, stress=stress: DirectForceCalculator(
                    str(path), device, {}, with_stress=stress))
    return variants


def ensemble_cost(model_path: str, settings: SpeedSettings, device: str = "cpu") -> dict:
    """Cost of an energy evaluation with the LLPR ensemble relative to a plain one (same
    structure, same calculator settings, side by side)."""
    from metatomic.torch import ModelOutput
    from metatomic_ase import MetatomicCalculator

    atoms = material_structure(settings.materials[0], settings.ensemble_atoms)
    with reading(model_path, "exported model"):
        plain = MetatomicCalculator(model_path, device=device, uncertainty_threshold=None)
    if "energy_ensemble" not in plain.model().capabilities().outputs:
        return {"natoms": len(atoms), "status": "model has no LLPR ensemble"}
    ensemble = MetatomicCalculator(
        model_path, device=device, uncertainty_threshold=None,
        additional_outputs={"energy_ensemble": ModelOutput(per_atom=False)})
    # alternate the two so that drifts of a noisy machine hit both alike
    for calculator in (plain, ensemble):
        time_step(calculator, atoms, settings.warmup, 1, ("energy",))
    plain_times, ensemble_times = [], []
    for _ in range(settings.repeats):
        plain_times.extend(time_step(plain, atoms, 0, 1, ("energy",)))
        ensemble_times.extend(time_step(ensemble, atoms, 0, 1, ("energy",)))
    return {"natoms": len(atoms), "status": "ok",
            "energy_s": float(np.median(plain_times)),
            "energy_and_ensemble_s": float(np.median(ensemble_times)),
            "ratio": float(np.median(ensemble_times) / np.median(plain_times))}
