"""The engine adapters: ``sevennet`` (default), ``gpaw`` (real DFT), ``emt`` (tests), ``file``."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.calculators.singlepoint import SinglePointCalculator

from petmad.config import ReferenceSettings


class EngineUnavailable(RuntimeError):
    """The configured engine cannot run here (package missing, data missing)."""


class LabelFileError(ValueError):
    """A user-supplied labeled file lacks what the workflow needs."""


def _package_version(module: str) -> str:
    try:
        return str(importlib.import_module(module).__version__)
    except ImportError as exc:
        raise EngineUnavailable(f"the Python package '{module}' is not installed: {exc}") from exc


def attach_labels(atoms: Atoms, energy: float, forces: np.ndarray, stress: np.ndarray) -> Atoms:
    """A copy of ``atoms`` carrying its labels the standard ASE way (read back by metatrain).

    Stress is Voigt, eV/Å³; non-periodic structures carry NaN, which metatrain skips.
    """
    labeled = atoms.copy()
    labeled.calc = SinglePointCalculator(
        labeled, energy=float(energy), forces=np.asarray(forces), stress=np.asarray(stress)
    )
    return labeled


def nan_stress() -> np.ndarray:
    return np.full(6, np.nan)


@dataclass
class ReferenceEngine:
    """Base class: subclasses say how to build their calculator."""

    name: ClassVar[str] = ""
    module: ClassVar[str] = ""
    reads_labels: ClassVar[bool] = False
    settings: dict[str, Any] = field(default_factory=dict)
    _calculator: Calculator | None = field(default=None, init=False, repr=False)

    def version(self) -> str:
        return _package_version(self.module)

    def check_available(self) -> None:
        """Fail early, before any structure is touched, when the engine cannot run."""
        self.version()

    def prepare(self, symbols: set[str]) -> None:
        """Per-run preparation that must not race between workers (e.g. PAW setups)."""

    def tag(self) -> str:
        return f"{self.name}-{self.version()}"

    def describe(self) -> dict[str, Any]:
        return {"engine": self.name, "version": self.version(), "settings": self.settings}

    def make_calculator(self, atoms: Atoms) -> Calculator:
        raise NotImplementedError

    def calculator_for(self, atoms: Atoms) -> Calculator:
        # Engines whose calculator does not depend on the structure build it once per process.
        if self._calculator is None:
            self._calculator = self.make_calculator(atoms)
        return self._calculator

    def periodic_box(self, atoms: Atoms) -> Atoms:
        """The structure as this engine computes it: itself, unless the engine needs a
        periodic box (plane waves)."""
        return atoms

    def compute(self, atoms: Atoms) -> Atoms:
        """Energy, forces and (periodic structures) stress of one structure."""
        work = atoms.copy()
        work.calc = self.calculator_for(work)
        energy = work.get_potential_energy()
        forces = work.get_forces()
        stress = work.get_stress(voigt=True) if atoms.pbc.all() else nan_stress()
        if not np.isfinite(energy) or not np.all(np.isfinite(forces)):
            raise FloatingPointError("the engine returned non-finite energy or forces")
        return attach_labels(atoms, energy, forces, stress)


@dataclass
class SevenNetEngine(ReferenceEngine):
    """SevenNet's pretrained universal potential from the wheel: a DFT stand-in that runs offline."""

    name: ClassVar[str] = "sevennet"
    module: ClassVar[str] = "sevenn"

    def tag(self) -> str:
        return f"{super().tag()}:{self.settings['model']}"

    def make_calculator(self, atoms: Atoms) -> Calculator:
        from sevenn.calculator import SevenNetCalculator

        return SevenNetCalculator(self.settings["model"], device="cpu")


@dataclass
class EmtEngine(ReferenceEngine):
    """ASE's effective-medium theory: only H C N O Al Ni Cu Pd Ag Pt Au; for fast tests."""

    name: ClassVar[str] = "emt"
    module: ClassVar[str] = "ase"

    def make_calculator(self, atoms: Atoms) -> Calculator:
        from ase.calculators.emt import EMT

        return EMT()


@dataclass
class GpawEngine(ReferenceEngine):
    """Plane-wave PAW DFT with GPAW, the paper's functional (PBEsol) by default.

    PAW setups come from Debian's gpaw-data; setups for functionals it lacks (PBEsol) are
    generated once per element with ``gpaw-setup`` into ``setup_dir``.  Non-periodic
    structures are computed in a periodic box with vacuum (their stress is not recorded).
    """

    name: ClassVar[str] = "gpaw"
    module: ClassVar[str] = "gpaw"
    shipped_functionals: ClassVar[tuple[str, ...]] = ("LDA", "PBE", "RPBE", "revPBE", "GLLBSC")
    system_setup_dirs: ClassVar[tuple[str, ...]] = ("/usr/share/gpaw-setups",)

    def _setup_dir(self) -> Path:
        return Path(os.path.expanduser(self.settings["setup_dir"]))

    def _search_path(self) -> list[str]:
        paths = [str(self._setup_dir())] + [p for p in self.system_setup_dirs if Path(p).is_dir()]
        extra = os.environ.get("GPAW_SETUP_PATH")
        return ([extra] if extra else []) + paths

    def check_available(self) -> None:
        self.version()
        if not any(Path(p).is_dir() for p in self._search_path()[1:]) and not os.environ.get(
            "GPAW_SETUP_PATH"
        ):
            raise EngineUnavailable(
                "GPAW's PAW setups were not found: install Debian's gpaw-data "
                "(apt-get install gpaw-data) or set GPAW_SETUP_PATH"
            )

    def prepare(self, symbols: set[str]) -> None:
        xc = self.settings["xc"]
        if xc in self.shipped_functionals:
            return
        target = self._setup_dir()
        target.mkdir(parents=True, exist_ok=True)
        for symbol in sorted(symbols):
            if any((Path(p) / f"{symbol}.{xc}").exists() or (Path(p) / f"{symbol}.{xc}.gz").exists()
                   for p in self._search_path()):
                continue
            result = subprocess.run(
                [sys.executable, "-c", "from gpaw.atom.gpaw_setup import main; main()",
                 "-f", xc, symbol],
                cwd=target, capture_output=True, text=True,
            )
            if result.returncode != 0:
                raise EngineUnavailable(
                    f"gpaw-setup could not generate the {xc} PAW setup of {symbol}: "
                    f"{result.stderr.strip()[-500:]}"
                )

    def calculator_for(self, atoms: Atoms) -> Calculator:
        # k-points follow each cell, so every structure gets its own calculator.
        return self.make_calculator(atoms)

    def make_calculator(self, atoms: Atoms) -> Calculator:
        import gpaw
        from gpaw import GPAW, PW

        # GPAW reads GPAW_SETUP_PATH only at import; extend its live search list instead.
        gpaw.setup_paths[:0] = [p for p in self._search_path() if p not in gpaw.setup_paths]
        return GPAW(
            mode=PW(self.settings["ecut_eV"]),
            xc=self.settings["xc"],
            kpts={"density": self.settings["kpoint_density"], "gamma": True},
            occupations={"name": "marzari-vanderbilt", "width": self.settings["smearing_eV"]},
            txt=None,
        )

    def periodic_box(self, atoms: Atoms) -> Atoms:
        # Plane waves need a periodic box: pad the non-periodic directions with vacuum.
        work = atoms.copy()
        if not work.pbc.all():
            for axis in np.flatnonzero(~work.pbc):
                work.center(vacuum=self.settings["vacuum_A"], axis=int(axis))
            work.pbc = True
        return work

    def compute(self, atoms: Atoms) -> Atoms:
        labeled = super().compute(self.periodic_box(atoms))
        result = atoms.copy()
        stress = labeled.get_stress(voigt=True) if atoms.pbc.all() else nan_stress()
        return attach_labels(result, labeled.get_potential_energy(), labeled.get_forces(), stress)


@dataclass
class FileEngine(ReferenceEngine):
    """Labels a user already has: extxyz files whose keys and energy unit are named in
    config (``reference.file``).  Every label is checked: a missing key, a non-finite
    value, a wrong shape or a stated unit other than the configured one is refused with
    one message naming the file, the structure and the key."""

    name: ClassVar[str] = "file"
    module: ClassVar[str] = "ase"
    reads_labels: ClassVar[bool] = True

    def read_labeled(self, path: str | Path) -> list[Atoms]:
        from ase.io import read

        path = Path(path)
        if not path.is_file():
            raise LabelFileError(f"labeled file '{path}' does not exist")
        try:
            frames = read(path, index=":", format="extxyz")
        except Exception as exc:  # ASE raises many types for malformed files
            raise LabelFileError(f"'{path}' is not a readable extxyz file: {exc}") from exc
        if not frames:
            raise LabelFileError(f"'{path}' holds no structures")
        return [self._relabel(path, i, atoms) for i, atoms in enumerate(frames)]

    def _relabel(self, path: Path, index: int, atoms: Atoms) -> Atoms:
        from petmad.config import ENERGY_UNITS_EV

        keys = self.settings
        results = atoms.calc.results if atoms.calc is not None else {}
        where = f"'{path}' structure {index}"

        def lookup(key: str | None) -> Any:
            if key is None:
                return None
            for store in (atoms.info, atoms.arrays, results):
                if key in store:
                    return store[key]
            return None

        def finite(what: str, key: str, value: Any, shape: tuple[int, ...] | None) -> np.ndarray:
            try:
                array = np.asarray(value, dtype=float)
            except (TypeError, ValueError):
                raise LabelFileError(f"{where}: {what} ('{key}') is not numeric: {value!r}") from None
            if shape is not None and array.shape != shape:
                raise LabelFileError(f"{where}: {what} ('{key}') has shape {array.shape}, "
                                     f"expected {shape}")
            if not np.isfinite(array).all():
                raise LabelFileError(f"{where}: {what} ('{key}') is not finite (NaN or inf)")
            return array

        energy = lookup(keys["energy_key"])
        forces = lookup(keys["forces_key"])
        missing = [f"{what} ('{key}')" for what, key, value in (
            ("energy", keys["energy_key"], energy), ("forces", keys["forces_key"], forces))
            if value is None]
        if missing:
            raise LabelFileError(f"{where}: missing {', '.join(missing)}")
        unit = keys["energy_unit"]
        stated = atoms.info.get("energy_unit")
        if stated is not None and stated != unit:
            raise LabelFileError(
                f"{where}: states energy_unit {stated!r}, but reference.file.energy_unit is "
                f"{unit!r}; set reference.file.energy_unit to the file's unit")
        to_ev = ENERGY_UNITS_EV[unit]
        energy = float(finite("energy", keys["energy_key"], energy, ())) * to_ev
        forces = finite("forces", keys["forces_key"], forces, None) * to_ev
        if forces.shape != (len(atoms), 3):
            raise LabelFileError(f"{where}: forces ('{keys['forces_key']}') have shape "
                                 f"{forces.shape}, expected ({len(atoms)}, 3)")
        if abs(energy) / len(atoms) > 1e5:
            raise LabelFileError(
                f"{where}: {energy / len(atoms):.3g} eV/atom is implausible; is "
                f"reference.file.energy_unit ({unit!r}) the file's unit?")
        stress = lookup(keys["stress_key"])
        if stress is None or not atoms.pbc.all():
            stress = nan_stress()
        else:
            stress = finite("stress", keys["stress_key"], stress, None) * to_ev
            if stress.shape in ((3, 3), (9,)):
                from ase.stress import full_3x3_to_voigt_6_stress

                stress = full_3x3_to_voigt_6_stress(stress.reshape(3, 3))
            if stress.shape != (6,):
                raise LabelFileError(f"{where}: stress ('{keys['stress_key']}') has shape "
                                     f"{stress.shape}, expected (6,) or (3, 3)")
        label_keys = {keys["energy_key"], keys["stress_key"], "energy_unit"}
        clean = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
        clean.info.update({k: v for k, v in atoms.info.items() if k not in label_keys})
        subset_key = keys.get("subset_key")
        subset = atoms.info.get(subset_key) if subset_key else None
        clean.info["subset"] = str(subset) if subset is not None else "all"
        return attach_labels(clean, energy, forces, stress)

    def compute(self, atoms: Atoms) -> Atoms:
        raise LabelFileError("the 'file' engine reads labels; it cannot compute new structures")


ENGINES: dict[str, type[ReferenceEngine]] = {
    engine.name: engine for engine in (SevenNetEngine, GpawEngine, EmtEngine, FileEngine)
}


def make_engine(reference: ReferenceSettings | dict[str, Any]) -> ReferenceEngine:
    """The engine named in the ``reference`` config section, with its settings."""
    if isinstance(reference, dict):
        reference = ReferenceSettings.model_validate(reference)
    name = reference.engine
    if name not in ENGINES:
        raise EngineUnavailable(f"unknown reference engine {name!r}; allowed: {sorted(ENGINES)}")
    section = getattr(reference, name, None)
    settings = section.model_dump() if section is not None else {}
    return ENGINES[name](settings=settings)
