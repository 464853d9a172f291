"""The workflow's configuration schema: one place for every key, its default and its meaning.

``config.yaml`` is the default preset; ``presets/*.yaml`` overlay it (Snakemake merges
nested mappings).  :func:`validate_config` turns the merged mapping into a :class:`Config`
or raises :class:`ConfigError` with one message naming the key path and what is allowed.
The JSON schema exported by :func:`json_schema` lives in ``config.schema.json`` and a test
keeps the two in sync (``python -m petmad schema > config.schema.json`` regenerates it).
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)

SYSTEMS = ("lps", "gaas", "hea", "water", "succinic", "bto")
# Models the workflow trains, and the labeling engine itself; every other model name comes
# from the model library (bundled SevenNets plus the config's model_library).
TRAINED_MODELS = ("pet-mad", "bespoke", "lora")
MODELS = (*TRAINED_MODELS, "reference")
SEVENNET_MODELS = ("7net-0", "7net-0_22May2024", "7net-l3i5")
ENGINES = ("sevennet", "gpaw", "emt", "file")
MAD_SUBSETS = ("bulk", "rattled", "randcomp", "surface", "cluster", "2d", "molcrys", "molfrag")

# Species each case study needs; the universal set must contain them all, since a PET
# cannot be fine-tuned to species it was not trained on.
SYSTEM_ELEMENTS = {
    "lps": ("Li", "P", "S"),
    "gaas": ("Ga", "As"),
    "hea": ("Co", "Cr", "Fe", "Mn", "Ni"),
    "water": ("H", "O"),
    "succinic": ("H", "C", "O"),
    "bto": ("Ba", "Ti", "O"),
}

SystemName = Literal["lps", "gaas", "hea", "water", "succinic", "bto"]
EngineName = Literal["sevennet", "gpaw", "emt", "file"]


def _known_symbol(symbol: str) -> str:
    from ase.data import atomic_numbers

    if symbol not in atomic_numbers or symbol == "X":
        raise ValueError(f"unknown chemical symbol {symbol!r}")
    return symbol


# Bounds of list items and mapping values live on the item type, so that an error names
# the item as well as the key (``studies.water_pimd.beads.0``).  pydantic's PositiveFloat
# and PositiveInt serve temperatures, widths and counts; these cover the rest.
OpenFraction = Annotated[float, Field(gt=0, lt=1)]
ChemicalSymbol = Annotated[str, AfterValidator(_known_symbol)]
Repeats = tuple[PositiveInt, PositiveInt, PositiveInt]


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the key path and what is allowed."""


class Strict(BaseModel):
    """Base for every section: unknown keys are errors, defaults are validated."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


# --------------------------------------------------------------------------- reference


SevenNetName = Literal["7net-0", "7net-0_22May2024", "7net-l3i5"]


class SevenNetSettings(Strict):
    model: SevenNetName = Field(
        "7net-0", description="pretrained SevenNet potential shipped in the sevenn wheel"
    )


class GpawSettings(Strict):
    xc: str = Field("PBEsol", description="exchange-correlation functional (paper: PBEsol)")
    ecut_eV: float = Field(500.0, gt=0, description="plane-wave cutoff (eV)")
    kpoint_density: float = Field(
        4.0, gt=0, description="k-points per reciprocal length, ASE kptdensity (Å)"
    )
    smearing_eV: float = Field(
        0.136, gt=0, description="Marzari-Vanderbilt cold smearing width (paper: 0.01 Ry)"
    )
    vacuum_A: float = Field(
        6.0, gt=0, description="vacuum added on each side of a non-periodic structure along "
        "every non-periodic direction (Å; ASE's center(vacuum=...), so periodic images are "
        "twice this apart).  Paper IV.B: a 25 Å vacuum along each non-periodic direction, "
        "read as the gap between images, i.e. 12.5 here"
    )
    setup_dir: str = Field(
        "~/.cache/petmad/gpaw-setups",
        description="where PAW setups for functionals missing from gpaw-data are generated",
    )


# Energy units a labels file may state, with their value in eV (ase.units' CODATA values).
ENERGY_UNITS_EV = {
    "eV": 1.0,
    "meV": 1e-3,
    "Hartree": 27.211386245988,
    "Rydberg": 13.605693122994,
    "kcal/mol": 0.0433641043,
    "kJ/mol": 0.0103642697,
}
EnergyUnit = Literal["eV", "meV", "Hartree", "Rydberg", "kcal/mol", "kJ/mol"]
LABEL_PLACEHOLDERS = ("{dataset}", "{split}")


class FileSettings(Strict):
    """Labels you already have: one extxyz file per dataset, or the pre-split
    train/val/test files that published sets (MAD, the paper's case-study sets) come as."""

    path: str | None = Field(
        None,
        description="labeled extxyz per dataset, with a '{dataset}' placeholder ('mad' or a "
        "system name), e.g. 'labels/{dataset}.extxyz'; add a '{split}' placeholder "
        "(train, val, test) for pre-split files, e.g. 'labels/{dataset}/{split}.extxyz', "
        "whose split is then kept as it is",
    )
    energy_key: str = Field("energy", description="info key of the total energy")
    forces_key: str = Field("forces", description="arrays key of the forces")
    stress_key: str | None = Field(
        "stress", description="info key of the stress (energy unit per Å³); null when absent"
    )
    subset_key: str | None = Field(
        "subset",
        description="info key naming each structure's subset (MAD's eight subsets feed the "
        "per-subset accuracy table); structures without it are in subset 'all'",
    )
    energy_unit: EnergyUnit = Field(
        "eV",
        description="unit of the energies in the file; forces are in this unit per Å and "
        "stresses per Å³ (positions and cells in Å, as extxyz has them).  A structure whose "
        "info states another 'energy_unit' is refused",
    )

    @field_validator("path")
    @classmethod
    def _known_placeholders(cls, value: str | None) -> str | None:
        if value is None:
            return value
        unknown = sorted(set(re.findall(r"{[^}]*}", value)) - set(LABEL_PLACEHOLDERS))
        if unknown:
            raise ValueError(f"unknown placeholder(s) {unknown}; allowed: {list(LABEL_PLACEHOLDERS)}")
        return value

    @property
    def pre_split(self) -> bool:
        return self.path is not None and "{split}" in self.path

    def paths(self, dataset: str) -> list[str]:
        """The labels file(s) of one dataset: one, or train/val/test when pre-split."""
        assert self.path is not None
        if self.pre_split:
            return [self.path.format(dataset=dataset, split=split)
                    for split in ("train", "val", "test")]
        return [self.path.format(dataset=dataset)]


class ReferenceSettings(Strict):
    engine: EngineName = Field("sevennet", description="which engine labels every dataset")
    sevennet: SevenNetSettings = SevenNetSettings()
    gpaw: GpawSettings = GpawSettings()
    file: FileSettings = FileSettings()

    @model_validator(mode="after")
    def _file_needs_path(self) -> "ReferenceSettings":
        if self.engine == "file" and (not self.file.path or "{dataset}" not in self.file.path):
            raise ValueError(
                "engine 'file' needs reference.file.path with a '{dataset}' placeholder, "
                "e.g. 'labels/{dataset}.extxyz'"
            )
        return self

    @property
    def computes(self) -> bool:
        """Whether the engine can compute new structures (the 'file' engine only reads)."""
        return self.engine != "file"


class LabelingSettings(Strict):
    max_threads: int = Field(
        8, ge=1, description="worker processes per labeling job (Snakemake caps at --cores)"
    )
    runtime_min: int = Field(120, ge=1, description="cluster runtime request per labeling job")
    shard_size: PositiveInt | None = Field(
        None, description="structures per labeling job: a dataset is labeled by independent "
        "jobs of this many structures (each resumable), gathered into the same "
        "labeled.extxyz one job writes; null: one job per dataset")
    chunk_size: int = Field(
        16, ge=1, description="structures per checkpointed chunk (a kill loses at most one)"
    )
    max_failed_fraction: float = Field(
        0.5,
        ge=0,
        le=1,
        description="stop with an error when more than this fraction of structures fails",
    )


# --------------------------------------------------------------------------- data


class MadSettings(Strict):
    elements: list[ChemicalSymbol] = Field(
        default_factory=lambda: list(DEFAULT_MAD_ELEMENTS),
        min_length=1,
        description="chemical symbols the universal dataset covers",
    )
    counts: dict[str, NonNegativeInt] = Field(
        default_factory=lambda: {
            "bulk": 300,
            "rattled": 300,
            "randcomp": 60,
            "surface": 80,
            "cluster": 80,
            "2d": 40,
            "molcrys": 40,
            "molfrag": 60,
        },
        description="structures wanted per subset after labeling and the force and energy "
        "filters (the paper's counts are the converged, filtered sizes); "
        "ceil(count × oversampling) are generated and labeled, and the split keeps at "
        "most this many of those that pass, in generation order",
    )
    oversampling: dict[str, Annotated[float, Field(ge=1)]] = Field(
        default_factory=lambda: {"default": 1.0},
        description="structures generated per structure wanted, per subset or 'default': "
        "room for failed calculations and filtered outliers (paper IV.B: > 95 % of the DFT "
        "calculations converged, about 55 % for MC3D-random).  1.0: what survives of the "
        "counts is kept, and the set ends up smaller than counts",
    )
    vacuum_A: float = Field(
        6.0, gt=0, description="vacuum on each side of surfaces, 2D layers, clusters and "
        "molecules along their non-periodic directions (Å); the reference engine may pad "
        "again (reference.gpaw.vacuum_A).  Paper IV.B: 25 Å between periodic images"
    )
    max_atoms: int = Field(24, ge=2, description="largest structure generated")
    rattle_fraction: float = Field(
        0.2, gt=0, description="σ of the rattled subset, as a fraction of covalent radii"
    )

    @field_validator("counts")
    @classmethod
    def _known_subsets(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - set(MAD_SUBSETS))
        if unknown:
            raise ValueError(f"unknown subsets {unknown}; allowed: {list(MAD_SUBSETS)}")
        return value

    @field_validator("oversampling")
    @classmethod
    def _known_oversampled_subsets(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(MAD_SUBSETS) - {"default"})
        if unknown:
            raise ValueError(f"unknown subsets {unknown}; allowed: {[*MAD_SUBSETS, 'default']}")
        return value

    def generated_count(self, subset: str) -> int:
        """Structures generated (and labeled) for ``subset``: its count times its
        oversampling factor, rounded up."""
        import math

        factor = self.oversampling.get(subset, self.oversampling.get("default", 1.0))
        return math.ceil(self.counts.get(subset, 0) * factor - 1e-9)



# Every element of the six case studies plus a spread over the periodic table (48).
DEFAULT_MAD_ELEMENTS = (
    "H Li Be B C N O F Na Mg Al Si P S Cl K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se "
    "Br Rb Sr Y Zr Nb Mo Ru Pd Ag Cd In Sn Sb Te Ba W"
).split()


class ThermalSampling(Strict):
    """How per-system configurations are distorted to cover a case study's conditions."""

    temperatures_K: list[PositiveFloat] = Field(
        default_factory=lambda: [300.0, 600.0, 900.0],
        min_length=1,
        description="temperatures whose Einstein-model thermal amplitude rattles atoms",
    )
    force_constant_eV_A2: float = Field(
        6.0, gt=0, description="Einstein force constant κ: rattle σ = sqrt(kB T / κ)"
    )
    max_strain: float = Field(
        0.03, ge=0, lt=0.5, description="largest random cell strain component"
    )


class MdSampling(Strict):
    """Configurations from Langevin MD with the reference engine at the dataset's
    temperatures (``sampling.temperatures_K``, unless ``temperatures_K`` is given), the way
    the paper's case-study sets were made.  Trajectory k starts from a rattled structure of
    one of the system's conditions (in their dataset proportions) and runs at the k-th
    temperature (cycled); after ``relax_steps`` and ``equilibration_steps`` a labeled frame
    is kept every ``stride_steps``.  The energies, forces and stress the MD computed are
    the labels: no second reference call."""

    trajectories: int = Field(0, ge=0, description="independent trajectories; 0 = none")
    temperatures_K: list[PositiveFloat] | None = Field(
        None, min_length=1, description="temperatures given to the trajectories in turn; "
        "null: the dataset's sampling.temperatures_K")
    frames_per_trajectory: int = Field(8, ge=1, description="labeled frames kept per trajectory")
    stride_steps: int = Field(10, ge=1, description="MD steps between kept frames")
    relax_steps: int = Field(
        30, ge=0, description="FIRE steps first, shedding the rattle's excess potential "
        "energy, which a thermostat takes hundreds of steps to remove")
    equilibration_steps: int = Field(
        60, ge=0, description="MD steps discarded after the relaxation (the relaxed start "
        "gives half its kinetic energy to the potential, which the thermostat makes up)")
    timestep_fs: float = Field(1.0, gt=0, description="MD time step (fs)")
    thermostat_tau_fs: float = Field(
        10.0, gt=0, description="Langevin friction time (fs); short, since only the sampled "
        "configurations matter, not the dynamics (at 25 fs and 40 equilibration steps, "
        "crystals were still 10-15 % below the temperature)")
    hydrogen_mass_amu: float = Field(
        4.0, gt=0, description="mass given to H during sampling: classical configurations do "
        "not depend on masses, and a heavier H allows the 1 fs step")

    @property
    def frames(self) -> int:
        return self.trajectories * self.frames_per_trajectory

    @property
    def steps_per_trajectory(self) -> int:
        """Relaxation and MD steps of one trajectory (one reference evaluation each)."""
        return (self.relax_steps + self.equilibration_steps
                + self.frames_per_trajectory * self.stride_steps)

    @property
    def steps(self) -> int:
        """Steps of all trajectories."""
        return self.trajectories * self.steps_per_trajectory


class ModelMdSampling(MdSampling):
    """Active learning (``data.<system>.model_md``): in round k a bespoke PET trained on
    the data of the rounds before (rattles, reference MD, earlier rounds' frames) runs the
    MD above, with the contact wall the studies add, and the reference engine labels its
    kept frames.  The final models train on every round's frames (subset 'model_md')."""

    rounds: int = Field(1, ge=1, description="active-learning rounds (each trains one "
                        "bespoke PET, runs its MD and labels the frames)")

    @property
    def all_frames(self) -> int:
        """Frames of every round (``frames`` is one round's)."""
        return self.rounds * self.frames


class SystemDataSettings(Strict):
    """Settings shared by every case-study dataset."""

    n_structures: int = Field(60, ge=1, description="structures generated for this system")
    sampling: ThermalSampling = ThermalSampling()
    md: MdSampling = Field(
        default_factory=MdSampling,
        description="reference-engine MD frames added to the training data (split with it "
        "80/10/10 as subset 'md'); only when the reference engine computes")
    md_test: MdSampling = Field(
        default_factory=MdSampling,
        description="independent reference-engine MD frames kept apart as the held-out test "
        "set data/<system>/md_test.extxyz: the honest test of a model for its case study")
    model_md: ModelMdSampling = Field(
        default_factory=ModelMdSampling,
        description="active learning: MD driven by a bespoke PET trained without these "
        "frames, relabeled by the reference engine and added to the training data as "
        "subset 'model_md' (trajectories and frames per round).  The frames are where a "
        "model goes and the reference MD does not (squeezed contacts, a swelling cell), "
        "which is what a model must learn to stay out of; 0 trajectories = none")

    # the field of each MD part: 'train' (reference MD added to the training data), 'test'
    # (the held-out reference MD), 'model' (active learning)
    MD_PARTS: ClassVar[dict[str, str]] = {"train": "md", "test": "md_test", "model": "model_md"}

    def part_md(self, part: str) -> MdSampling:
        """The MD settings of ``part`` ('train', 'test' or 'model')."""
        return getattr(self, self.MD_PARTS[part])

    def md_shaping(self, part: str) -> dict:
        """The settings that shape the MD of ``part`` ('train', 'test' or 'model'): not the
        rattles' count, not the other parts' MD (changing those must not resample it)."""
        others = set(self.MD_PARTS.values()) - {self.MD_PARTS[part]}
        return self.model_dump(mode="json", exclude={"n_structures", *others})


class LpsData(SystemDataSettings):
    supercell: Repeats = Field((1, 1, 1), description="repeats of each cell")
    structure_files: dict[Literal["alpha", "beta", "gamma"], str | None] = Field(
        default_factory=lambda: {"alpha": None, "beta": None, "gamma": None},
        description="user CIF per phase; null uses the shipped crystal data "
        "(α then starts from β, expanded, as no α coordinates ship offline)",
    )
    alpha_volume_expansion: float = Field(
        0.03,
        ge=0,
        lt=0.5,
        description="fractional volume increase applied to β to stand in for α when no α "
        "file is given",
    )


class GaasData(SystemDataSettings):
    supercell: Repeats = Field(
        (2, 2, 2), description="repeats of the 8-atom cubic cell (solid and liquid)"
    )
    interface_cells_z: int = Field(
        4, ge=2, description="cubic cells along z of the solid–liquid interface cell"
    )
    liquid_density_g_cm3: float = Field(5.71, gt=0, description="liquid GaAs density")
    interface_max_atoms: int = Field(
        256,
        ge=16,
        description="the interface cell keeps the supercell's in-plane repeats while it has "
        "at most this many atoms, otherwise it is 1×1 in-plane",
    )


class HeaData(SystemDataSettings):
    supercell: Repeats = Field((2, 2, 2), description="repeats of the fcc cell")
    slab: Repeats = Field(
        (3, 3, 5), description="(111) slab: in-plane repeats and number of layers"
    )
    vacuum_A: float = Field(8.0, gt=0, description="vacuum on each side of the slab")


class WaterData(SystemDataSettings):
    n_molecules: int = Field(16, ge=1, description="molecules per periodic box")
    density_kg_m3: float = Field(997.1, gt=0, description="liquid density (paper: 997.1)")


class SuccinicData(SystemDataSettings):
    supercell: Repeats = Field((1, 1, 1), description="repeats of the α cell")
    include_beta: bool = Field(True, description="also sample the β polymorph")


class BtoData(SystemDataSettings):
    supercell: Repeats = Field(
        (2, 2, 2), description="repeats of the 5-atom perovskite cell"
    )


class DataSettings(Strict):
    split: tuple[float, float, float] = Field(
        (0.8, 0.1, 0.1), description="train/val/test fractions per subset (paper IV.D)"
    )
    force_filter_eV_A: dict[str, PositiveFloat] = Field(
        default_factory=lambda: {"rattled": 100.0, "randcomp": 100.0, "default": 50.0},
        description="drop structures whose largest force exceeds this, per subset name or "
        "'default' (paper II.A: 100 eV/Å for rattled and random-composition, else 50)",
    )
    energy_filter_eV_per_atom: float | None = Field(
        10.0, gt=0, description="drop structures whose energy a least-squares composition "
        "fit misses by more than this (eV/atom): reference-engine failures, not chemistry; "
        "null keeps everything (the paper filters forces only)"
    )
    mad: MadSettings = MadSettings()
    lps: LpsData = LpsData()
    gaas: GaasData = GaasData()
    hea: HeaData = HeaData()
    water: WaterData = WaterData()
    succinic: SuccinicData = SuccinicData()
    bto: BtoData = BtoData()

    @field_validator("split")
    @classmethod
    def _fractions(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        if min(value) < 0 or abs(sum(value) - 1.0) > 1e-9:
            raise ValueError(f"split fractions must be non-negative and sum to 1, got {value}")
        return value


# --------------------------------------------------------------------------- models


class PetHypers(Strict):
    """metatrain PET architecture hyper-parameters (paper IV.D for the published values)."""

    cutoff: float = Field(4.5, gt=0, description="neighbour cutoff (Å); paper 4.5")
    d_pet: int = Field(64, ge=1, description="edge token size; paper 256")
    d_head: int = Field(64, ge=1, description="output MLP width; paper 512")
    d_node: int = Field(
        128, ge=1, description="node feature size (not stated in the paper; the PET of the "
        "paper had none of its own: its central token is d_pet wide)")
    d_feedforward: int = Field(
        128, ge=1, description="transformer feed-forward width (not stated in the paper)")
    activation: Literal["SiLU", "SwiGLU"] = Field(
        "SwiGLU", description="activation (metatrain's default SwiGLU has three feed-forward "
        "matrices; the PET of the paper used SiLU)")
    featurizer_type: Literal["residual", "feedforward"] = Field(
        "feedforward", description="readout: 'residual' sums heads over every message-passing "
        "layer, as the paper's PET did (IV.C); 'feedforward' reads the last layer only "
        "(metatrain's default)")
    num_heads: int = Field(4, ge=1, description="attention heads; paper 8")
    num_attention_layers: int = Field(
        1, ge=1, description="transformer layers per message-passing layer; paper 2"
    )
    num_gnn_layers: int = Field(1, ge=1, description="message-passing layers; paper 2")
    zbl: bool = Field(
        False, description="add metatrain's ZBL screened-nuclear repulsion (switched off at "
        "the sum of the two covalent radii) under the learned energy, so atoms cannot merge "
        "where the data hold no close contacts; the paper's PET-MAD has none and learns the "
        "short range from MAD (S4)")


class TrainerSettings(Strict):
    num_epochs: int = Field(40, ge=1, description="training epochs; paper 1500 (PET-MAD)")
    batch_size: int = Field(8, ge=1, description="structures per batch; paper 24 per GPU")
    learning_rate: float = Field(
        1e-3, gt=0, description="Adam learning rate (cosine-annealed by metatrain's PET "
        "trainer; the paper halved 1e-4 every 250 epochs)"
    )
    energy_weight: float = Field(0.1, ge=0, description="loss weight of energies; paper 0.1")
    forces_weight: float = Field(1.0, ge=0, description="loss weight of forces")
    stress_weight: float = Field(
        1.0, ge=0, description="loss weight of stress (structures without one are skipped)"
    )
    checkpoint_interval: int = Field(
        10, ge=1, description="epochs between checkpoints (a kill loses at most this)"
    )
    direct_forces_weight: float = Field(
        0.0, ge=0, description="loss weight of a direct-force head (output "
        "non_conservative_forces, fitted to the same forces); 0: no such head"
    )


class PretrainSettings(TrainerSettings):
    direct_forces_weight: float = Field(
        1.0, ge=0, description="loss weight of pet-mad's direct-force head (output "
        "non_conservative_forces, fitted to the same forces), which the paper's PET-MAD has "
        "(S12) and the direct-force / MTS benchmark needs; 0: no such head"
    )
    processes: int = Field(
        1, ge=1, description="training processes on one node, one GPU each: metatrain's "
        "distributed PET trainer (torch DDP over NCCL).  batch_size is per process, so the "
        "effective batch is processes × batch_size (paper: 8 H100s × 24).  More than 1 needs "
        "device cuda and runs inside a SLURM allocation (the slurm profile asks for one node "
        "with this many tasks and GPUs)"
    )
    launcher: str = Field(
        "srun", description="command that starts the training processes inside the job's "
        "SLURM allocation when processes > 1; petmad appends --ntasks, --ntasks-per-node and "
        "--cpus-per-task "
        "(add site options here, e.g. 'srun --gpu-bind=closest')"
    )


class FinetuneSettings(TrainerSettings):
    method: Literal["lora", "full"] = Field(
        "lora", description="LoRA adapters on the attention layers, or all weights"
    )
    rank: int = Field(8, ge=1, description="LoRA rank; paper 8")
    scaling: float = Field(
        0.5, gt=0, description="LoRA scaling: the adapters' low-rank update B·A is "
        "multiplied by this, W x + scaling · B A x, whatever the rank (paper IV.E: 'a "
        "scaling parameter of 0.5', applied as such by the PET code of the paper).  "
        "metatrain multiplies by alpha/rank, so the workflow passes it alpha = scaling × rank"
    )
    target_modules: list[str] = Field(
        default_factory=lambda: ["input_linear", "output_linear"],
        description="PET linear layers that get adapters (the attention layers)",
    )
    learning_rate: float = Field(1e-3, gt=0, description="Adam learning rate for fine-tuning")
    energy_baseline: Literal["shifted", "base"] = Field(
        "shifted", description="'shifted': the base model's per-species energy baseline "
        "is first shifted by the least-squares per-species offset of its energies on the "
        "system's training set, so fine-tuning starts without a constant energy error; "
        "'base': fine-tuning starts from the base model as it is"
    )


class LlprSettings(Strict):
    num_ensemble_members: int = Field(
        128, ge=2, description="last-layer ensemble size; paper 128"
    )
    batch_size: int = Field(8, ge=1, description="batch size of the covariance pass")


class LearningCurveSettings(Strict):
    systems: list[SystemName] = Field(
        default_factory=lambda: ["gaas"], description="systems with learning curves (S10)"
    )
    fractions: list[OpenFraction] = Field(
        default_factory=lambda: [0.25, 0.5], description="training-set fractions in (0, 1) "
        "(1.0 is the main models, always included)"
    )
    methods: list[Literal["bespoke", "lora", "full"]] = Field(
        default_factory=lambda: ["bespoke", "lora", "full"], description="training scenarios"
    )
    lora_ranks: dict[SystemName, list[Annotated[int, Field(ge=1)]]] = Field(
        default_factory=dict, description="more LoRA ranks per system, beside finetune.rank: "
        "each is a learning-curve method lora-r<rank>, trained at every fraction and on the "
        "whole set (paper S10.E, Fig. S12: water at rank 32)"
    )
    mad_fractions: list[OpenFraction] = Field(
        default_factory=list, description="fractions of the MAD training set for pet-mad's "
        "own learning curve (paper S10.A, Fig. S8): a PET trained from scratch with the "
        "pretraining settings on that share of every MAD subset, tested on the MAD test "
        "set; the whole set is pet-mad itself.  Empty: no MAD curve (nor with "
        "training.base_model, which replaces pretraining)"
    )

    @model_validator(mode="after")
    def _ranks_of_curved_systems(self) -> "LearningCurveSettings":
        # A rank for a system without learning curves would be trained nowhere.
        stray = sorted(set(self.lora_ranks) - set(self.systems))
        if stray:
            raise ValueError(f"lora_ranks names {', '.join(stray)}, which "
                             f"learning_curves.systems ({', '.join(self.systems)}) lacks: add "
                             "it there or drop its ranks")
        return self


class ContactWallSettings(Strict):
    """A repulsive wall, E = k (r_ab - r)^3, that case-study simulations add to the trained
    PETs below the closest a-b contact of the system's training data (times
    ``onset_fraction``), where a briefly trained PET is nearly flat and its MD lets atoms
    merge.  One table per system (``data/<system>/contact_wall.json``, rule
    ``contact_wall``), so changing these settings reruns the studies, not the training;
    benchmarks of the models themselves never add it (petmad/simulate/contact_wall.py)."""

    enabled: bool = Field(False, description="add the wall in every case-study simulation "
                          "of the trained models (the paper's PET-MAD has none)")
    onset_fraction: float = Field(0.9, gt=0, le=1, description="the wall starts at this "
                                  "fraction of the closest contact in the training data")
    stiffness_eV_A3: PositiveFloat = Field(100.0, description="k: 100 gives 0.8 eV at "
                                           "0.2 Å inside the onset, 12.5 eV at 0.5 Å")


class TrainingSettings(Strict):
    base_model: str | None = Field(
        None, description="existing PET checkpoint (.ckpt), e.g. the published PET-MAD; "
        "when set, no pretraining runs and everything downstream uses it"
    )
    pet: PetHypers = PetHypers()
    pretrain: PretrainSettings = PretrainSettings()
    bespoke: TrainerSettings = TrainerSettings()
    finetune: FinetuneSettings = FinetuneSettings()
    llpr: LlprSettings = LlprSettings()
    learning_curves: LearningCurveSettings = LearningCurveSettings()
    external_models: list[str] = Field(
        default_factory=lambda: ["7net-0", "7net-l3i5"],
        description="other universal potentials, by name in the model library (the bundled "
        "SevenNets or a model_library entry), compared in the accuracy table, the dimer "
        "curves, the relaxations and the speed benchmark (the reference engine's own "
        "SevenNet is left out)",
    )
    lebedev_order: int = Field(
        9, ge=3, description="Lebedev grid order of the rotational-discrepancy benchmark"
    )
    rotations_per_axis: int = Field(
        4, ge=1, description="rotations about each Lebedev direction in that benchmark"
    )
    max_rotation_structures: int = Field(
        50, ge=1, description="MAD test structures in the rotational benchmark"
    )
    runtime_min: int = Field(240, ge=1, description="cluster runtime request per training job")
    threads: int = Field(
        8, ge=1, description="threads per training job, or per process of distributed "
        "pretraining (pretrain.processes) (Snakemake caps at --cores; tiny models train "
        "faster as parallel single-thread jobs)"
    )


# --------------------------------------------------------------------------- case studies


class StopCriteria(Strict):
    """Run guards: a simulation that trips one stops with a message naming the step and the
    cause, keeps its records so far, and its study lists it as stopped, with the reason,
    instead of averaging it (an unstable model is a result).  Non-finite energies, forces
    or stresses always stop a run; every guard here can be switched off with null."""

    max_uncertainty_eV_per_atom: float | None = Field(
        None, gt=0, description="stop when the LLPR energy uncertainty per atom exceeds this "
        "(a structure outside the model's domain); null = off.  Models without an LLPR "
        "ensemble (the reference engine) are never stopped by it"
    )
    min_distance_A: float | None = Field(
        0.5, gt=0, description="stop when two atoms come closer than this (collapse)"
    )
    max_neighbour_distance_A: float | None = Field(
        None,
        gt=0,
        description="stop when an atom has no neighbour within this distance (atoms flying "
        "apart); null = off",
    )
    max_energy_change_eV_per_atom: float | None = Field(
        None, gt=0, description="stop when |E - E_start|/N exceeds this (explosion)"
    )


def study_guards(**values: float) -> Any:
    """A study's ``stop`` field: its default guards, documented once for every study."""
    return Field(
        StopCriteria(**values),
        description="run guards of every simulation of the study (see StopCriteria); set "
        "max_uncertainty_eV_per_atom to stop runs that leave the model's domain",
    )


class LpsPhase(Strict):
    structure: str | None = Field(
        None,
        description="CIF (or any ASE-readable file) of the phase; null: the shipped crystal "
        "(γ, β); α has none offline and starts from β, equilibrated at the α temperatures "
        "(above the β→α transition) and labelled 'α (from β)'",
    )
    supercell: list[PositiveInt] = Field(
        default_factory=lambda: [1, 1, 1], min_length=3, max_length=3,
        description="repetitions of the conventional cell",
    )
    temperatures_K: list[PositiveFloat] = Field(..., min_length=1,
                                                description="temperature grid")


class LpsConductivitySettings(Strict):
    """Li3PS4 ionic conductivity by Green-Kubo (paper II.D, S11.A)."""

    phases: dict[Literal["alpha", "beta", "gamma"], LpsPhase] = Field(
        default_factory=lambda: {
            "gamma": LpsPhase(supercell=[1, 2, 2], temperatures_K=[500.0, 650.0]),
            "beta": LpsPhase(supercell=[1, 1, 2], temperatures_K=[600.0, 700.0]),
            "alpha": LpsPhase(supercell=[1, 1, 2], temperatures_K=[800.0, 900.0]),
        },
        description="phases to simulate, each with its cell and temperatures",
    )
    timestep_fs: float = Field(
        2.0, gt=0, description="MD time step (the paper states none for Li3PS4; 2 fs, the "
        "HEA study's step, suits its Li-S dynamics)")
    npt_steps: int = Field(200, ge=1, description="NPT equilibration steps (isotropic, 1 bar)")
    nvt_steps: int = Field(100, ge=1, description="NVT equilibration steps at the mean volume")
    production_steps: int = Field(500, ge=2, description="NVT production steps per trajectory")
    replicas: int = Field(1, ge=1, description="independent trajectories per point")
    velocity_stride: int = Field(2, ge=1, description="steps between saved velocities")
    thermostat_tau_fs: float = Field(
        1000.0, gt=0,
        description="stochastic velocity rescaling time constant in production: a global "
        "thermostat this weak leaves the ionic dynamics, hence the current correlations, "
        "practically unperturbed",
    )
    barostat_tau_fs: float = Field(500.0, gt=0, description="piston time constant (NPT)")
    correlation_time_ps: float = Field(
        0.15, gt=0,
        description="Green-Kubo truncation: the current autocorrelation is integrated up to "
        "this lag (past the decay of the correlation, before noise dominates)",
    )
    charges: dict[str, float] = Field(
        default_factory=lambda: {"Li": 1.0, "P": 5.0, "S": -2.0},
        description="nominal oxidation numbers used in the charge flux",
    )
    framework_species: list[str] = Field(
        default_factory=lambda: ["P"], min_length=1,
        description="atoms that stay on their lattice sites in every phase (the PS4 centres; "
        "the tetrahedra rotate in α but do not travel): their RMS displacement over the "
        "production run tells a conducting crystal from a melt",
    )
    max_framework_displacement_A: float = Field(
        1.0, gt=0,
        description="largest RMS displacement (Å) of the framework atoms over the production "
        "run for the point to count as the crystal's σ (the reference engine's own MD at "
        "650-700 K: 0.17 Å; neighbouring P sites are about 6 Å apart)",
    )
    max_volume_change: float = Field(
        0.15, gt=0,
        description="largest relative change of the mean production volume from the "
        "crystal's for the point to count as the crystal's σ",
    )
    stop: StopCriteria = study_guards(
        min_distance_A=0.5, max_energy_change_eV_per_atom=5.0)
    runtime_min: int = Field(120, ge=1, description="cluster runtime request per MD job")


class Q4Switching(Strict):
    """Neighbour weights of the Steinhardt Q4 collective variable: PLUMED's RATIONAL
    switching function (1 - x^n)/(1 - x^m), x = (r - d0)/r0, times a cosine taper to zero
    between cutoff - taper and cutoff."""

    r0_A: float = Field(3.0, gt=0, description="rational switching-function distance r0 (Å)")
    d0_A: float = Field(0.0, ge=0, description="switching-function offset d0; closer pairs weigh 1")
    n: int = Field(6, ge=1, description="switching-function exponent n")
    m: int = Field(12, ge=1, description="switching-function exponent m > n")
    cutoff_A: float = Field(4.0, gt=0, description="pair cutoff (PLUMED's D_MAX), Å")
    taper_A: float = Field(
        0.5, ge=0, description="width of the cosine taper to zero below the cutoff (0 = hard)"
    )

    @model_validator(mode="after")
    def _check_switching(self) -> "Q4Switching":
        if not self.n < self.m:
            raise ValueError(f"the switching function needs n < m, got n={self.n}, m={self.m}")
        if not self.cutoff_A > self.taper_A:
            raise ValueError(f"cutoff_A ({self.cutoff_A}) must exceed taper_A ({self.taper_A})")
        return self


class GaasMeltingSettings(Strict):
    """GaAs melting point by interface pinning (paper II.E, S11.B).  The protocol takes
    any crystal: ``crystal`` names the solid, ``q4`` and the pinning keys its order
    parameter."""

    crystal: str = Field(
        "gaas", description="the solid: a shipped crystal (petmad/data/crystals.py; 'gaas' "
        "is the 8-atom zincblende cell) or an ASE-readable file of a periodic cell whose "
        "third vector is the interface normal")
    supercell: list[PositiveInt] = Field(
        default_factory=lambda: [2, 2, 8], min_length=3, max_length=3,
        description="repetitions of the crystal's cell; the last (z) is the long axis normal "
        "to the interface (paper: 3x3x16 zincblende cells, 1152 atoms, 17x17x90 Å)",
    )
    bulk_supercell: list[PositiveInt] = Field(
        default_factory=lambda: [2, 2, 2], min_length=3, max_length=3,
        description="cell of the bulk solid and liquid runs giving the Q4 references",
    )
    temperatures_K: list[PositiveFloat] = Field(
        default_factory=lambda: [1000.0, 1150.0, 1300.0], min_length=2,
        description="pinning temperatures (paper: 950-1200 K every 50 K)",
    )
    timestep_fs: float = Field(4.0, gt=0, description="MD time step (paper: 4 fs)")
    relax_steps: int = Field(50, ge=0, description="FIRE steps relaxing the supercell and cell")
    melt_temperature_K: float = Field(2500.0, gt=0, description="temperature melting half the box")
    melt_steps: int = Field(
        300, ge=1, description="NPT steps melting the upper half, the lower half held fixed, "
        "the cell free along z at 1 bar (paper S11.B: 'partially melted with NPT MD'); also "
        "the NVT steps melting the bulk liquid reference")
    liquid_min_distance: float = Field(
        0.8, gt=0, description="random packings of liquid starts (the melting half, the "
        "bulk liquid) keep every pair at least this fraction of the sum of covalent radii "
        "apart (lower it for loosely bound liquids, e.g. noble gases, raise it to avoid "
        "collisions on the first step)")
    reference_steps: int = Field(200, ge=2, description="steps of each bulk reference run")
    pinning_steps: int = Field(300, ge=2, description="pinned NPT steps per temperature (paper: 1 ns)")
    equilibration_fraction: float = Field(
        0.3, ge=0, lt=1, description="leading share of every run left out of the averages"
    )
    record_stride: int = Field(5, ge=1, description="steps between saved frames")
    kappa_eV: float = Field(
        200.0, gt=0, description="pinning spring constant k (eV; s is dimensionless)"
    )
    target: float = Field(0.5, gt=0, lt=1, description="pinning target s̄ between liquid "
                          "(0) and solid (1) (paper: 1/2)")
    # First shell only: Ga-As at 2.45 Å counts, the second shell at 4.0 Å lies beyond.
    q4: Q4Switching = Field(
        default_factory=lambda: Q4Switching(cutoff_A=3.5),
        description="Q4 neighbour weights (first-shell Ga-As neighbours)",
    )
    min_order_contrast: float = Field(
        0.05, gt=0, description="smallest |q_solid - q_liquid| accepted (either phase may have "
        "the larger Q4); below it the normalisation of s is meaningless and the point is "
        "reported as failed")
    max_solid_drift: float = Field(
        0.05, gt=0, description="largest |q_solid - q_crystal| accepted, where q_crystal is "
        "the mean per-atom q4 of the relaxed crystal the bulk solid run starts from; beyond "
        "it the model's crystal melted or turned into another phase at that temperature and "
        "the point is reported as failed (the reference engine's zincblende at 1150 K keeps "
        "0.508 against the relaxed crystal's 0.509)")
    max_liquid_volume_change: float = Field(
        0.25, gt=0, description="largest |V_liquid / V_crystal - 1| accepted, with V the mean "
        "volume per atom of the bulk liquid run and of the relaxed crystal; beyond it the "
        "model's 'liquid' boiled into a foam or collapsed, so s = 0 would not be the crystal's "
        "melt and the point is reported as failed (liquid GaAs, Si and water are about 10 % "
        "denser than their crystals, most metals' melts 2-6 % less dense)")
    stop: StopCriteria = study_guards(
        min_distance_A=0.8, max_energy_change_eV_per_atom=5.0)
    runtime_min: int = Field(240, ge=1, description="cluster runtime request per MD job")


class HeaSegregationSettings(Strict):
    """CoCrFeMnNi (111) surface segregation by REMD with Monte Carlo swaps (paper II.F,
    S11.C)."""

    slab: list[PositiveInt] = Field(
        default_factory=lambda: [3, 3, 6], min_length=3, max_length=3,
        description="fcc(111) slab: in-plane repeats and number of layers (paper: 7x7x11, "
        "539 atoms)",
    )
    vacuum_A: float = Field(
        10.0, gt=0, description="vacuum on each side; the cell is periodic along z too, so "
        "the in-plane barostat sees a stress, and the gap (twice this) exceeds any cutoff")
    temperature_range_K: list[PositiveFloat] = Field(
        default_factory=lambda: [640.0, 1250.0], min_length=2, max_length=2,
        description="lowest and highest replica temperature (paper: 500-1200 K; the "
        "default's 4-point grid is 640, 800, 1000, 1250 K)",
    )
    replicas: int = Field(
        4, ge=2, description="replicas on a logarithmic grid over the range (paper: 16)")
    analysis_temperature_K: float = Field(
        800.0, gt=0, description="Γ comes from the replica nearest this temperature "
        "(paper: 800 K; its actual temperature is reported)")
    timestep_fs: float = Field(2.0, gt=0, description="MD time step (paper: 2 fs)")
    steps: int = Field(1000, ge=2, description="REMD steps (paper: 200 ps = 100000 steps)")
    exchange_stride: int = Field(
        10, ge=1, description="steps between replica-exchange attempts")
    swap_attempts_per_step: float = Field(
        0.2, gt=0, description="mean number of Monte Carlo atom-swap attempts per MD step "
        "and replica (Poisson; each attempt costs one energy evaluation)")
    pressure_bar: float = Field(0.0, description="in-plane pressure (paper: zero)")
    barostat_tau_fs: float = Field(1000.0, gt=0, description="piston time constant")
    thermostat_tau_fs: float = Field(100.0, gt=0, description="Langevin time constant")
    relax_steps: int = Field(
        20, ge=0, description="FIRE steps relaxing the positions of the starting slab")
    record_stride: int = Field(10, ge=1, description="steps between saved frames")
    bulk_thickness_A: float = Field(
        10.0, gt=0, description="thickness of the bulk region centred on the slab (paper "
        "Eq. 6: 10 Å)")
    equilibration_fraction: float = Field(
        0.5, ge=0, lt=1, description="leading share of the run left out of the averages")
    # An atom with no neighbour within 5 Å has left the slab: the protocol assumes a slab.
    stop: StopCriteria = study_guards(
        min_distance_A=1.0, max_neighbour_distance_A=5.0,
        max_energy_change_eV_per_atom=5.0)
    runtime_min: int = Field(240, ge=1, description="cluster runtime request per REMD job")

    @model_validator(mode="after")
    def _check_temperatures(self) -> HeaSegregationSettings:
        low, high = self.temperature_range_K
        if not 0 < low < high:
            raise ValueError(f"temperature_range_K needs 0 < low < high, got {low}, {high}")
        if not low <= self.analysis_temperature_K <= high:
            raise ValueError(f"analysis_temperature_K {self.analysis_temperature_K} lies "
                             f"outside temperature_range_K [{low}, {high}]")
        return self

    def temperatures_K(self) -> list[float]:
        """The replica ladder: a logarithmic grid, as in the paper."""
        low, high = self.temperature_range_K
        last = self.replicas - 1
        return [low * (high / low) ** (k / last) for k in range(self.replicas)]


class WaterPimdSettings(Strict):
    """Nuclear quantum effects in liquid water: pair correlations and heat capacity against
    the number of path-integral beads (paper II.G, S11.D)."""

    n_molecules: int = Field(16, ge=2, description="H2O in the periodic box (paper: 128)")
    density_kg_m3: float = Field(997.1, gt=0, description="box density (paper: 997.1 kg/m³)")
    temperature_K: float = Field(298.0, gt=0, description="temperature (paper: 298 K)")
    beads: list[PositiveInt] = Field(
        default_factory=lambda: [1, 2, 4], min_length=1,
        description="bead numbers P to run; 1 is classical MD (paper: up to 32)")
    timestep_fs: float = Field(0.5, gt=0, description="MD time step (fs)")
    thermostat: Literal["pile_l", "pile_g"] = Field(
        "pile_l", description="path-integral Langevin thermostat (P = 1: plain Langevin / "
        "SVR); pile_l thermostats the centroid locally, pile_g globally")
    thermostat_tau_fs: float = Field(100.0, gt=0, description="centroid thermostat time constant")
    relax_steps: int = Field(
        20, ge=0, description="FIRE steps relaxing the random packing before equilibration")
    equilibration_steps: int = Field(
        200, ge=1, description="classical NVT steps equilibrating the box with each model")
    steps: int = Field(400, ge=2, description="NVT steps of every (P)IMD run")
    heat_capacity_stride: int = Field(
        5, ge=1, description="steps between heat-capacity estimator outputs (each costs "
        "two extra force calls per bead)")
    record_stride: int = Field(10, ge=1, description="steps between saved frames (RDFs)")
    rdf_max_A: float = Field(
        6.0, gt=0, description="largest pair distance of the RDFs (capped at half the box)")
    rdf_bins: int = Field(120, ge=10, description="RDF histogram bins")
    equilibration_fraction: float = Field(
        0.2, ge=0, lt=1, description="leading share of every run left out of the averages")
    stop: StopCriteria = study_guards(
        min_distance_A=0.5, max_energy_change_eV_per_atom=5.0)
    runtime_min: int = Field(240, ge=1, description="cluster runtime request per MD job")


class ShieldingModelSettings(Strict):
    """The auxiliary linear model for isotropic shieldings: ridge regression on the SOAP
    power spectrum (featomic) of each hydrogen's environment."""

    cutoff_A: float = Field(
        2.5, gt=0, description="SOAP cutoff; the reference clusters must contain every atom "
        "this close to a labelled hydrogen (the paper's GIPAW models see ~5 Å; clusters "
        "that large cost hours of GIAO each on a laptop)")
    max_radial: int = Field(5, ge=0, description="largest radial index of the GTO basis")
    max_angular: int = Field(4, ge=0, description="largest angular momentum")
    atomic_width_A: float = Field(0.3, gt=0, description="Gaussian width of atomic densities")
    regularizers: list[PositiveFloat] = Field(
        default_factory=lambda: [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0],
        min_length=1, description="ridge strengths tried (relative to the mean feature "
        "variance); the best by 5-fold cross-validation on the training set is kept")
    test_fraction: float = Field(
        0.2, gt=0, lt=1, description="share of labelled frames held out for the test RMSE")


class ShieldingReferenceSettings(Strict):
    """How the rule ``succinic_reference`` computes a reference shielding set: frames from
    classical and path-integral MD of the α crystal with the reference engine, clusters of
    whole molecules around chosen hydrogens, GIAO Hartree-Fock shieldings (PySCF)."""

    basis: str = Field("6-31g", description="Gaussian basis of the GIAO-RHF calculations")
    frames: int = Field(10, ge=2, description="crystal frames, half classical, half PIMD beads")
    clusters_per_frame: int = Field(
        2, ge=1, description="clusters per frame, centred on carboxylic and aliphatic H in turn")
    cluster_radius_A: float = Field(
        2.5, gt=0, description="whole molecules with an atom this close to the centre are "
        "included; hydrogens whose environment within shielding_model.cutoff_A lies inside "
        "become labels")
    temperature_K: float = Field(300.0, gt=0, description="MD temperature")
    beads: int = Field(4, ge=2, description="beads of the PIMD run whose beads are sampled")
    steps: int = Field(400, ge=10, description="steps of each MD run (0.5 fs)")
    threads: int = Field(2, ge=1, description="threads per GIAO calculation")


class SuccinicNmrSettings(Strict):
    """Quantum nuclear effects on 1H shieldings of α-succinic acid (paper II.H, S10.F,
    S11.E)."""

    supercell: list[PositiveInt] = Field(
        default_factory=lambda: [1, 1, 1], min_length=3, max_length=3,
        description="repeats of the 28-atom α cell (the paper follows Ref. 59's protocol, "
        "whose cell has 336 atoms, 12 cells; it states no size of its own)")
    temperature_K: float = Field(300.0, gt=0, description="MD and PIMD temperature")
    beads: int = Field(4, ge=2, description="beads of the path-integral runs")
    timestep_fs: float = Field(0.5, gt=0, description="MD time step")
    thermostat_tau_fs: float = Field(100.0, gt=0, description="centroid thermostat time constant")
    relax_steps: int = Field(50, ge=0, description="FIRE steps relaxing positions and cell")
    equilibration_steps: int = Field(200, ge=1, description="NVT steps before sampling")
    steps: int = Field(600, ge=2, description="NVT sampling steps, classical and PIMD each")
    record_stride: int = Field(10, ge=1, description="steps between saved frames")
    equilibration_fraction: float = Field(
        0.2, ge=0, lt=1, description="leading share of the sampling left out")
    reference_set: str = Field(
        "shipped", description="labelled shieldings the model is trained on: 'shipped' (the "
        "project's GIAO set, see petmad/shielding/data/README.md), 'computed' (made by the "
        "rule succinic_reference with the 'reference' settings), or an extended-XYZ file of "
        "crystal frames with a per-atom 'shielding_iso_ppm' array (NaN = unlabelled), e.g. "
        "GIPAW values")
    reference: ShieldingReferenceSettings = ShieldingReferenceSettings()
    shielding_model: ShieldingModelSettings = ShieldingModelSettings()
    stop: StopCriteria = study_guards(
        min_distance_A=0.6, max_energy_change_eV_per_atom=5.0)
    runtime_min: int = Field(240, ge=1, description="cluster runtime request per MD job")


class BornCharges(Strict):
    """Born effective charges (units of e) of cubic BaTiO3 that label cell dipoles when the
    reference engine gives no polarization.  Defaults: Zhong, King-Smith and Vanderbilt,
    Phys. Rev. Lett. 72, 3618 (1994), LDA; O∥ is along the Ti-O-Ti chain through the
    oxygen, O⊥ the two directions across it."""

    Ba: float = Field(2.75, description="Z* of Ba (isotropic)")
    Ti: float = Field(7.16, description="Z* of Ti (isotropic)")
    O_parallel: float = Field(-5.69, description="Z* of O along its Ti-O-Ti bond")
    O_perpendicular: float = Field(-2.11, description="Z* of O across its Ti-O-Ti bond")

    @model_validator(mode="after")
    def _check_sum_rule(self) -> "BornCharges":
        total = self.Ba + self.Ti + self.O_parallel + 2 * self.O_perpendicular
        if abs(total) > 0.05:
            raise ValueError(
                f"the Born charges violate the acoustic sum rule: Ba + Ti + O∥ + 2 O⊥ = "
                f"{total:+.3f} e per cell (must be 0, or a rigid translation makes a dipole)")
        return self


class DipoleModelSettings(Strict):
    """The cell-dipole model: a linear function of the λ = 1 equivariant SOAP power spectrum
    (featomic), summed over the atoms of a cell; no intercept, so it rotates with the cell."""

    cutoff_A: float = Field(4.5, gt=0, description="neighbour cutoff")
    max_radial: int = Field(4, ge=0, description="largest radial index of the GTO basis")
    max_angular: int = Field(3, ge=1, description="largest angular momentum of the density")
    atomic_width_A: float = Field(0.5, gt=0, description="Gaussian width of atomic densities")
    regularizers: list[PositiveFloat] = Field(
        default_factory=lambda: [1e-8, 1e-6, 1e-4, 1e-3, 1e-2, 1e-1, 1.0],
        min_length=1, description="ridge strengths tried (relative to the mean feature "
        "power); the best by k-fold cross-validation over training structures is kept")
    folds: int = Field(5, ge=2, description="cross-validation folds")


class PhaseLandscapeSettings(Strict):
    """Collective variables for phase identification (paper S11.F, Ref. 62): the λ = 1
    SOAP vectors of the Ti environments (the dipole model's features), averaged over each
    frame, expressed on the pseudo-cubic cell axes and sorted by absolute value per channel
    (so the six domain orientations of a polar phase coincide), standardised and projected
    on the principal axes of the shipped ideal phase structures.  A Gaussian mixture in
    that space, one component per phase started at the phase's ideal structure, assigns
    every frame its phase probabilities."""

    components: int = Field(2, ge=1, le=3, description="collective variables kept (the "
                            "ideal phases span at most 3)")
    phases: list[Literal["rhombohedral", "orthorhombic", "tetragonal", "cubic"]] = Field(
        default_factory=lambda: ["rhombohedral", "orthorhombic", "tetragonal", "cubic"],
        min_length=2, description="phases clustered, in order of increasing temperature")

    @model_validator(mode="after")
    def _check_phases(self) -> "PhaseLandscapeSettings":
        if len(set(self.phases)) != len(self.phases):
            raise ValueError(f"phases repeat: {self.phases}")
        return self


class BtoDielectricSettings(Strict):
    """BaTiO3 phases and dielectric response (paper II.I, S11.F)."""

    supercell: list[PositiveInt] = Field(
        default_factory=lambda: [2, 2, 2], min_length=3, max_length=3,
        description="repeats of the 5-atom pseudo-cubic cell (paper: 4 × 4 × 4, 320 atoms)")
    start_phase: Literal["rhombohedral", "orthorhombic", "tetragonal", "cubic"] = Field(
        "rhombohedral", description="every temperature starts from this phase's shipped "
        "structure (the ground state: runs above a transition leave it)")
    temperatures_K: list[PositiveFloat] = Field(
        default_factory=lambda: [40.0, 100.0, 160.0, 220.0, 280.0, 340.0, 400.0],
        min_length=2, description="temperature grid (paper: 40-400 K)")
    pressure_bar: float = Field(1.0, description="external pressure (paper: ambient)")
    timestep_fs: float = Field(2.0, gt=0, description="MD time step")
    thermostat_tau_fs: float = Field(
        100.0, gt=0, description="stochastic velocity rescaling time constant")
    barostat_tau_fs: float = Field(1000.0, gt=0, description="flexible-cell piston time constant")
    equilibration_steps: int = Field(200, ge=1, description="NPT steps before sampling")
    steps: int = Field(1000, ge=2, description="NPT sampling steps per temperature")
    record_stride: int = Field(10, ge=1, description="steps between analysed frames")
    min_population: float = Field(
        0.02, gt=0, lt=0.5, description="a temperature enters the Δμ fit of two phases only "
        "when both hold at least this share of its frames (log of ~0 is noise)")
    born_charges: BornCharges = BornCharges()
    dipole_model: DipoleModelSettings = DipoleModelSettings()
    landscape: PhaseLandscapeSettings = PhaseLandscapeSettings()
    stop: StopCriteria = study_guards(
        min_distance_A=0.8, max_energy_change_eV_per_atom=2.0)
    runtime_min: int = Field(240, ge=1, description="cluster runtime request per MD job")

    @model_validator(mode="after")
    def _check_strides(self) -> "BtoDielectricSettings":
        if self.steps < 2 * self.record_stride:
            raise ValueError(f"steps ({self.steps}) must hold at least two frames "
                             f"(record_stride {self.record_stride})")
        return self


class DimerSettings(Strict):
    """Homonuclear dimer curves of the universal models against the reference engine
    (paper S5, Fig. S4)."""

    elements: list[ChemicalSymbol] = Field(
        default_factory=lambda: ["H", "C", "N", "O", "Si", "Ti", "Fe", "Ga", "As", "Ba"],
        min_length=1, description="elements whose dimers are computed (each must be in "
        "data.mad.elements)")
    points: int = Field(10, ge=2, description="distances per curve (paper: 10)")
    min_factor: float = Field(0.9, gt=0, description="shortest distance in covalent radii "
                              "(paper: 0.9)")
    max_factor: float = Field(5.0, gt=0, description="longest distance in covalent radii "
                              "(paper: 5.0)")

    @model_validator(mode="after")
    def _check_range(self) -> "DimerSettings":
        if not self.min_factor < self.max_factor:
            raise ValueError(f"min_factor ({self.min_factor}) must be below max_factor "
                             f"({self.max_factor})")
        return self


RELAXATION_CRYSTAL_ELEMENTS = {"beo_wurtzite": {"Be", "O"}, "bete_zincblende": {"Be", "Te"},
                               "libr_rocksalt": {"Li", "Br"}}


class RelaxationSettings(Strict):
    """Geometry optimisation of randomly perturbed crystals with the universal models
    (paper S6, Fig. S5)."""

    crystals: list[Literal["beo_wurtzite", "bete_zincblende", "libr_rocksalt"]] = Field(
        default_factory=lambda: ["beo_wurtzite", "bete_zincblende", "libr_rocksalt"],
        min_length=1, description="crystals relaxed (the paper's three phononDB materials)")
    runs: int = Field(5, ge=1, description="perturbed copies per crystal (paper: 1000)")
    displacement_A: float = Field(
        0.1, gt=0, description="standard deviation of the normal displacements of positions "
        "and cell-vector components (paper: 0.1 Å)")
    fmax_eV_A: float = Field(0.05, gt=0, description="force threshold (paper: 0.05 eV/Å)")
    max_steps: int = Field(100, ge=1, description="LBFGS step limit (paper: 100)")


class PhononSettings(Strict):
    """Phonon bands of pet-mad's LLPR ensemble against the reference engine (paper S8,
    Fig. S7): finite displacements in supercells of the fixed experimental cells."""

    crystals: list[Literal["beo_wurtzite", "bete_zincblende", "libr_rocksalt"]] = Field(
        default_factory=lambda: ["beo_wurtzite", "bete_zincblende", "libr_rocksalt"],
        min_length=1, description="crystals whose bands are drawn (the paper's three "
        "phononDB materials)")
    supercell_min_width_A: float = Field(
        7.0, gt=0, description="each primitive vector is repeated until the supercell is at "
        "least this wide between opposite faces (7 Å: LiBr and BeTe 3 × 3 × 3, BeO "
        "3 × 3 × 2); force constants beyond half of it fold back")
    displacement_A: float = Field(
        0.01, gt=0, description="finite displacement of each symmetry-distinct atom "
        "(phonopy's default)")
    points_per_segment: int = Field(
        40, ge=2, description="q-points on each straight segment of the band path")
    runtime_min: int = Field(
        60, ge=1, description="cluster runtime request per model (a DFT reference needs "
        "far more than the models)")


SPEED_MATERIAL_ELEMENTS = {"aluminium": {"Al"}, "diamond": {"C"}, "water": {"H", "O"}}


class SpeedSettings(Strict):
    """Inference cost per MD step (energy, forces, stress) against system size (paper
    Fig. 3); the models are pet-mad, the LoRA model of the first system and every model in
    training.external_models, timed side by side in one job."""

    materials: list[Literal["aluminium", "diamond", "water"]] = Field(
        default_factory=lambda: ["aluminium", "diamond", "water"], min_length=1,
        description="fcc Al, diamond C and liquid water: three densities (paper Fig. 3)")
    sizes: list[PositiveInt] = Field(
        default_factory=lambda: [64, 250, 1000], min_length=1,
        description="target atom counts (the material's unit repeated n × n × n nearest to "
        "each; paper: ~50 to several thousand)")
    warmup: int = Field(2, ge=0, description="untimed evaluations before timing (TorchScript "
                        "optimises a model during its first two calls)")
    repeats: int = Field(3, ge=1, description="timed evaluations per point")
    max_seconds_per_step: float = Field(
        2.0, gt=0, description="a size is skipped when the model's previous point, scaled "
        "linearly in atoms, predicts a step slower than this (CPU budget; on GPUs memory "
        "is the limit)")
    ensemble_atoms: int = Field(
        250, ge=1, description="size of the LLPR ensemble cost comparison")


class NcMtsSettings(Strict):
    """Direct (non-conservative) forces and multiple time stepping in a molecular liquid
    (paper S12).  The paper runs BMIM-Cl at 500 K; pet-mad here is trained on no ionic
    liquid, so liquid water (the water study's box builder) stands in.  pet-mad runs NVE
    and NVT (SVR) with conservative forces, with its direct-force head, and with MTS
    (direct forces inside, the conservative correction every ``outer_every`` steps)."""

    n_molecules: int = Field(24, ge=2, description="H2O in the periodic box")
    density_kg_m3: float = Field(997.1, gt=0, description="box density")
    temperature_K: float = Field(
        350.0, gt=0, description="equilibration and thermostat temperature (paper: 500 K "
        "for BMIM-Cl; water is kept liquid)")
    timestep_fs: float = Field(
        0.5, gt=0, description="time step of conservative and direct-force MD and the "
        "inner step of MTS (paper: 0.5 fs)")
    outer_every: int = Field(
        4, ge=2, description="MTS: direct-force steps per conservative correction (paper: "
        "8).  The default preset's briefly trained direct head misses the conservative "
        "forces by ~2 eV/Å RMS; corrections that large every 4 fs (M = 8) threw H atoms into "
        "collisions within 3 outer steps, every 2 fs (M = 4) they did not")
    thermostat_tau_fs: float = Field(
        10.0, gt=0, description="SVR time constant of the NVT runs (paper: 10 fs)")
    relax_steps: int = Field(20, ge=0, description="FIRE steps relaxing the random packing")
    equilibration_steps: int = Field(
        200, ge=1, description="conservative NVT steps before the six runs")
    steps: int = Field(
        800, ge=1, description="steps of each run (MTS: this many inner steps, so every "
        "variant covers the same simulated time); a multiple of outer_every")
    record_stride: int = Field(
        16, ge=1, description="steps between saved frames (velocities for the per-species "
        "temperatures, positions for g(r) and MSD); a multiple of outer_every")
    rdf_bins: int = Field(80, ge=10, description="O-O g(r) histogram bins")
    # Broken molecules or an energy blow-up end a run: past that the trajectory means nothing.
    stop: StopCriteria = study_guards(
        min_distance_A=0.5, max_energy_change_eV_per_atom=5.0)
    runtime_min: int = Field(240, ge=1, description="cluster runtime request of the job")

    @model_validator(mode="after")
    def _whole_outer_steps(self) -> NcMtsSettings:
        for name in ("steps", "record_stride"):
            if getattr(self, name) % self.outer_every:
                raise ValueError(f"{name} ({getattr(self, name)}) must be a multiple of "
                                 f"outer_every ({self.outer_every}): MTS runs whole outer steps")
        return self


class StudySettings(Strict):
    lps_conductivity: LpsConductivitySettings = LpsConductivitySettings()
    gaas_melting: GaasMeltingSettings = GaasMeltingSettings()
    hea_segregation: HeaSegregationSettings = HeaSegregationSettings()
    water_pimd: WaterPimdSettings = WaterPimdSettings()
    succinic_nmr: SuccinicNmrSettings = SuccinicNmrSettings()
    bto_dielectric: BtoDielectricSettings = BtoDielectricSettings()
    dimers: DimerSettings = DimerSettings()
    relaxations: RelaxationSettings = RelaxationSettings()
    phonons: PhononSettings = PhononSettings()
    speed: SpeedSettings = SpeedSettings()
    nc_mts: NcMtsSettings = NcMtsSettings()
    contact_wall: ContactWallSettings = ContactWallSettings()


# --------------------------------------------------------------------------- model library

MODEL_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.+-]*"


class LibraryModel(Strict):
    """A model the workflow does not train: it runs through every case study and benchmark
    like the trained ones.  ``petmad/models/registry.py`` turns an entry into a calculator."""

    kind: Literal["metatomic", "sevennet", "chgnet", "ase"] = Field(
        ..., description="metatomic: an exported model file (e.g. the published PET-MAD from "
        "upet's save_upet or mtt export), with its LLPR ensemble where it has one; sevennet: "
        "a SevenNet model shipped in its wheel; chgnet: a CHGNet model shipped in its wheel; "
        "ase: any ASE calculator made by a factory function")
    path: str | None = Field(None, description="metatomic: the exported model (.pt)")
    name: SevenNetName | None = Field(None, description="sevennet: which bundled model")
    version: Literal["0.3.0", "0.2.0", "r2scan"] | None = Field(
        None, description="chgnet: which bundled model")
    factory: str | None = Field(
        None, description="ase: 'package.module:function' returning an ASE calculator, e.g. "
        "'mace.calculators:mace_mp'")
    kwargs: dict[str, Any] = Field(
        default_factory=dict, description="ase: keyword arguments of the factory (a file "
        "path among them is read as given, relative to the working directory)")
    species: list[ChemicalSymbol] | None = Field(
        None, description="elements the model covers; a case study needing others is "
        "skipped for this model, with one line when the workflow starts.  Null: read from "
        "the model where it says (metatomic), else assumed to cover every study")

    @model_validator(mode="after")
    def _fields_of_kind(self) -> "LibraryModel":
        needed = {"metatomic": "path", "sevennet": "name", "chgnet": "version",
                  "ase": "factory"}[self.kind]
        if getattr(self, needed) is None:
            raise ValueError(f"a '{self.kind}' model needs '{needed}'")
        if self.kind == "ase" and not re.fullmatch(r"[\w.]+:\w+", self.factory or ""):
            raise ValueError(f"factory must read 'package.module:function', got {self.factory!r}")
        return self


BUNDLED_LIBRARY = {name: LibraryModel(kind="sevennet", name=name) for name in SEVENNET_MODELS}


# --------------------------------------------------------------------------- top level


class Config(Strict):
    seed: int = Field(20250101, ge=0, description="master seed; every stochastic step "
                      "derives from it (numpy takes no negative seeds)")
    device: Literal["cpu", "cuda", "auto"] = Field("cpu", description="torch device")
    systems: list[SystemName] = Field(
        default_factory=lambda: list(SYSTEMS), description="case studies to run"
    )
    models: list[str] = Field(
        default_factory=lambda: ["pet-mad", "bespoke", "lora"],
        description="models each case study runs with (unless study_models names its "
        "own): pet-mad, bespoke, lora (trained "
        "here), reference (the labeling engine), a bundled SevenNet (7net-0, "
        "7net-0_22May2024, 7net-l3i5) or a model_library entry",
    )
    study_models: dict[SystemName, list[str]] = Field(
        default_factory=dict,
        description="per case study, the models it runs with instead of models, e.g. "
        "{succinic: [pet-mad, bespoke, lora, reference]} to run the reference engine in "
        "that study alone (its MD costs far more than a PET's)",
    )
    model_library: dict[str, LibraryModel] = Field(
        default_factory=dict,
        description="your own models by name, usable in models and training.external_models, "
        "e.g. {my-pet-mad: {kind: metatomic, path: pet-mad-v1.pt}, chgnet: {kind: chgnet, "
        "version: 0.3.0}, mace: {kind: ase, factory: 'mace.calculators:mace_mp', kwargs: "
        "{model: mace.model}}}",
    )
    reference: ReferenceSettings = ReferenceSettings()
    labeling: LabelingSettings = LabelingSettings()
    data: DataSettings = DataSettings()
    training: TrainingSettings = TrainingSettings()
    studies: StudySettings = StudySettings()

    @property
    def library(self) -> dict[str, LibraryModel]:
        """Every model name the library resolves: the bundled SevenNets and model_library."""
        return {**BUNDLED_LIBRARY, **self.model_library}

    @model_validator(mode="after")
    def _model_names_resolve(self) -> "Config":
        for name in self.model_library:
            if name in MODELS or not re.fullmatch(MODEL_NAME_PATTERN, name):
                raise ValueError(
                    f"model_library name {name!r} must differ from {list(MODELS)} and use "
                    "letters, digits and . _ + - only (it names folders and files)")
        for system, names in self.study_models.items():
            if not names:
                raise ValueError(f"study_models.{system} is empty: name the models the "
                                 f"{system} study runs with, or leave it out to run models")
        known = [*MODELS, *self.library]
        lists = [("models", self.models, known),
                 *((f"study_models.{system}", names, known)
                   for system, names in self.study_models.items()),
                 ("training.external_models", self.training.external_models,
                  list(self.library))]
        for key, names, allowed in lists:
            for index, name in enumerate(names):
                if name not in allowed:
                    raise ValueError(f"{key}.{index}: unknown model {name!r}; known: {allowed} "
                                     "(add your own under model_library)")
            if len(set(names)) != len(names):
                raise ValueError(f"{key} names a model twice: {names}")
        return self

    @model_validator(mode="after")
    def _distributed_pretraining_on_gpus(self) -> "Config":
        processes = self.training.pretrain.processes
        if processes > 1 and self.device == "cpu":
            raise ValueError(
                f"training.pretrain.processes {processes} trains pet-mad with metatrain's "
                "distributed PET trainer, which runs on CUDA GPUs only (NCCL): set device "
                "to cuda, or processes to 1")
        return self

    @model_validator(mode="after")
    def _labels_from_file_compute_nothing(self) -> "Config":
        # The 'file' engine reads labels; nothing can ask it for a new calculation.
        if self.reference.computes:
            return self
        # (A 'reference' among the studies' models is left out of them, with one line:
        # petmad.models.registry.refused_studies.)
        if self.studies.succinic_nmr.reference_set == "computed":
            raise ValueError("studies.succinic_nmr.reference_set 'computed' needs a reference "
                             "engine that computes; reference.engine 'file' only reads labels")
        return self

    @model_validator(mode="after")
    def _universal_set_covers_systems(self) -> "Config":
        if self.training.base_model is None:
            needed = {e for system in self.systems for e in SYSTEM_ELEMENTS[system]}
            missing = sorted(needed - set(self.data.mad.elements))
            if missing:
                raise ValueError(
                    f"data.mad.elements lacks {missing}, needed by the case studies "
                    f"{self.systems}: the universal model must know every species"
                )
            missing = sorted(set(self.studies.dimers.elements) - set(self.data.mad.elements))
            if missing:
                raise ValueError(
                    f"studies.dimers.elements has {missing}, which data.mad.elements lacks: "
                    "the universal model has never seen them")
            for section in ("relaxations", "phonons"):
                needed = set().union(*(RELAXATION_CRYSTAL_ELEMENTS[c]
                                       for c in getattr(self.studies, section).crystals))
                missing = sorted(needed - set(self.data.mad.elements))
                if missing:
                    raise ValueError(
                        f"studies.{section}.crystals need {missing}, which data.mad.elements "
                        "lacks: the universal model has never seen them")
            needed = set().union(*(SPEED_MATERIAL_ELEMENTS[m] for m in self.studies.speed.materials))
            missing = sorted(needed - set(self.data.mad.elements))
            if missing:
                raise ValueError(
                    f"studies.speed.materials need {missing}, which data.mad.elements lacks: "
                    "the universal model has never seen them")
            missing = sorted({"H", "O"} - set(self.data.mad.elements))
            if missing:
                raise ValueError(
                    f"studies.nc_mts runs liquid water with pet-mad, but data.mad.elements "
                    f"lacks {missing}")
        return self


def _key_path(location: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in location) or "<top level>"


def validate_config(raw: dict[str, Any]) -> Config:
    """Validate a merged configuration mapping; raise :class:`ConfigError` on the first problem."""
    try:
        return Config.model_validate(raw or {})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            value = error.get("input")
            shown = "" if error["type"] == "missing" else f" (got {value!r})"
            if error["type"] == "extra_forbidden":
                problems.append(f"config key '{_key_path(error['loc'])}' is not known")
            else:
                message = error["msg"].removeprefix("Value error, ")  # pydantic's prefix
                if not error["loc"]:  # a check across sections names its own keys
                    problems.append(message)
                    continue
                problems.append(f"config key '{_key_path(error['loc'])}': {message}{shown}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None


def user_files(config: Config) -> dict[str, str]:
    """The files a configuration names for the systems it runs (structures, a shielding
    set), by key path; relative paths are relative to the working directory.  (The base
    model and the reference engine's label files are checked by their own stages.)"""
    files: dict[str, str] = {}
    if "lps" in config.systems:
        for phase, path in config.data.lps.structure_files.items():
            if path:
                files[f"data.lps.structure_files.{phase}"] = path
        for phase, spec in config.studies.lps_conductivity.phases.items():
            if spec.structure:
                files[f"studies.lps_conductivity.phases.{phase}.structure"] = spec.structure
    crystal = config.studies.gaas_melting.crystal
    if "gaas" in config.systems and not _shipped_crystal(crystal):
        files["studies.gaas_melting.crystal"] = crystal
    choice = config.studies.succinic_nmr.reference_set
    if "succinic" in config.systems and choice not in ("shipped", "computed"):
        files["studies.succinic_nmr.reference_set"] = choice
    named = [*config.models, *(n for names in config.study_models.values() for n in names),
             *config.training.external_models]
    for name in dict.fromkeys(named):
        entry = config.model_library.get(name)
        if entry is not None and entry.kind == "metatomic":
            files[f"model_library.{name}.path"] = entry.path
    return files


def _shipped_crystal(name: str) -> bool:
    from petmad.data.crystals import SHIPPED_CRYSTALS

    return name in SHIPPED_CRYSTALS


def check_user_files(config: Config) -> None:
    """Raise :class:`ConfigError` naming the key of the first file that does not exist:
    before any job runs, since a job whose output exists would never look for it."""
    from pathlib import Path

    for key, path in user_files(config).items():
        if not Path(path).expanduser().is_file():
            raise ConfigError(f"config key '{key}': file '{path}' does not exist")


def json_schema() -> str:
    """The JSON schema of :class:`Config`, as committed in ``config.schema.json``."""
    return json.dumps(Config.model_json_schema(), indent=2, sort_keys=True) + "\n"


def merge_mappings(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Overlay nested mappings the way Snakemake merges ``--configfile`` files."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_mappings(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_config_files(paths: list[str]) -> Config:
    """Read YAML files, later ones overlaying earlier ones, and validate the result."""
    import yaml

    merged: dict[str, Any] = {}
    for path in paths:
        try:
            with open(path) as handle:
                content = yaml.safe_load(handle) or {}
        except FileNotFoundError:
            raise ConfigError(f"config file '{path}' does not exist") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file '{path}' is not valid YAML: {exc}") from None
        if not isinstance(content, dict):
            raise ConfigError(f"config file '{path}' must hold a mapping of keys")
        merged = merge_mappings(merged, content)
    return validate_config(merged)


def dataset_settings(data: DataSettings, dataset: str) -> Strict:
    """The settings section of one dataset ('mad' or a system name)."""
    if dataset not in ("mad", *SYSTEMS):
        raise ConfigError(f"unknown dataset {dataset!r}; allowed: {['mad', *SYSTEMS]}")
    return getattr(data, dataset)


def dataset_settings_class(dataset: str) -> type[Strict]:
    return type(dataset_settings(DataSettings(), dataset))
