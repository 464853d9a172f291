"""Starting crystal structures: the CIFs shipped in ``structures/`` and user-supplied files.

Every loaded structure is a plain periodic :class:`ase.Atoms` (ASE's CIF bookkeeping such as
the space-group object is dropped so the result serialises cleanly) with
``info["provenance"]`` set to the file's ``# SOURCE:`` line.  See ``structures/README.md``
for sources, licences and caveats.
"""

from __future__ import annotations

from pathlib import Path

from ase import Atoms
from ase.io import read

STRUCTURES_DIR = Path(__file__).resolve().parent / "structures"

# short name -> (file, atoms per cell as shipped); the counts guard against a CIF that ASE
# expands differently (e.g. a lost or duplicated symmetry operation).
SHIPPED_CRYSTALS: dict[str, tuple[str, int]] = {
    "gaas": ("GaAs_zincblende_F-43m.cif", 8),
    "lps_beta": ("Li3PS4_beta_Pnma_ordered.cif", 32),
    "lps_gamma": ("Li3PS4_gamma_Pmn21.cif", 16),
    "bto_cubic": ("BaTiO3_cubic_Pm-3m.cif", 5),
    "bto_tetragonal": ("BaTiO3_tetragonal_P4mm.cif", 5),
    "bto_orthorhombic": ("BaTiO3_orthorhombic_Amm2.cif", 10),
    "bto_rhombohedral": ("BaTiO3_rhombohedral_R3m.cif", 5),
    # One mixed-occupancy site: the 4 fcc sites come back with a placeholder species;
    # callers assign the alloy's species themselves.
    "hea_fcc": ("CoCrFeMnNi_fcc_Fm-3m.cif", 4),
    "succinic_alpha": ("succinic_acid_alpha_P-1.cif", 28),
    "succinic_beta": ("succinic_acid_beta_P21c.cif", 28),
}


def load_crystal(name: str) -> Atoms:
    """The shipped crystal ``name`` (a key of :data:`SHIPPED_CRYSTALS`), conventional cell."""
    try:
        filename, expected_atoms = SHIPPED_CRYSTALS[name]
    except KeyError:
        raise ValueError(
            f"unknown crystal {name!r}; shipped: {sorted(SHIPPED_CRYSTALS)}"
        ) from None
    atoms = load_structure_file(STRUCTURES_DIR / filename)
    if len(atoms) != expected_atoms:
        raise ValueError(
            f"{filename} gave {len(atoms)} atoms per cell, expected {expected_atoms}"
        )
    return atoms


def load_structure_file(path: str | Path) -> Atoms:
    """Read one periodic structure (CIF or any format ASE recognises from the name).

    Raises FileNotFoundError for a missing file and ValueError, naming the path and the
    reason, for a file that cannot be parsed, holds no atoms or has no 3-D cell.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"structure file {path} does not exist")
    try:
        loaded = read(path)
    except Exception as exc:  # ASE raises many types for malformed files
        raise ValueError(f"cannot read structure file {path}: {exc}") from exc
    if len(loaded) == 0:
        raise ValueError(f"structure file {path} holds no atoms")
    if loaded.cell.rank != 3:
        raise ValueError(f"structure file {path} has no 3-D periodic cell")
    atoms = Atoms(loaded.numbers, positions=loaded.positions, cell=loaded.cell, pbc=True)
    atoms.info["provenance"] = _source_line(path) or f"user file {path}"
    return atoms


def _source_line(path: Path) -> str | None:
    """The text after ``# SOURCE:`` in the file's leading comment block, if there is one."""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if not line.startswith("#"):
                    break
                if line.startswith("# SOURCE:"):
                    return line.removeprefix("# SOURCE:").strip()
    except OSError:
        return None
    return None
