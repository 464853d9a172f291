"""What a simulation run is: the potential(s) that move the atoms and the dynamics settings.

Both are pydantic models so case studies can embed them in ``config.yaml`` sections and the
CLI can pass them as JSON.  Units are ASE's except where a field name says otherwise
(``_K``, ``_fs``, ``_bar``, ``_A``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, NonNegativeInt, PositiveFloat, model_validator

# StopCriteria lives with the configuration, whose case-study sections embed it; runs
# take it from here with the rest of their settings.
from petmad.config import (  # noqa: F401
    LibraryModel,
    Q4Switching,
    ReferenceSettings,
    StopCriteria,
    Strict,
)


class Q4RestraintSettings(Q4Switching):
    """Harmonic pinning restraint V = kappa/2 (s - target)^2 on the normalised Steinhardt
    order parameter s = (q̄ - q_liquid)/(q_solid - q_liquid), where q̄ is the mean per-atom
    q4 of the centre atoms (1 = solid, 0 = liquid): the interface-pinning bias."""

    kappa_eV: float = Field(1.0, ge=0, description="spring constant k (eV; s is dimensionless)")
    target: float = Field(0.5, description="pinning target s̄ (1/2: half solid, half liquid)")
    q_solid: float = Field(1.0, description="mean per-atom q4 of the bulk solid (s = 1)")
    q_liquid: float = Field(0.0, description="mean per-atom q4 of the bulk liquid (s = 0)")
    species: tuple[str, ...] | None = Field(
        None, min_length=1, description="species used as centres and neighbours; null = all"
    )

    @model_validator(mode="after")
    def _check_normalisation(self) -> Q4RestraintSettings:
        if self.q_solid == self.q_liquid:
            raise ValueError("q_solid and q_liquid must differ: they normalise "
                             f"s = (q - q_liquid)/(q_solid - q_liquid), both are {self.q_solid}")
        return self


class PotentialSpec(Strict):
    """One term of the potential energy: a trained model, a cheap test potential, the
    reference engine, or a bias.  Terms in a run are summed."""

    kind: Literal["metatomic", "library", "emt", "lj", "harmonic", "reference",
                  "q4_restraint"] = Field(..., description="what evaluates this term")
    path: str | None = Field(None, description="exported metatomic model (.pt) for 'metatomic'")
    device: str = Field("cpu", description="torch device for 'metatomic' ('auto': GPU if any)")
    non_conservative: bool = Field(
        False, description="use the model's direct-force head instead of -dE/dr ('metatomic')"
    )
    ensemble: bool = Field(
        True, description="record LLPR ensemble energies and uncertainty when the model has them"
    )
    lj: dict[str, float] = Field(
        default_factory=lambda: {"epsilon": 0.0104, "sigma": 3.4, "rc": 8.5},
        description="Lennard-Jones parameters (eV, Å) for 'lj' (ASE's smooth-cutoff LJ)",
    )
    spring_eV_A2: float = Field(
        1.0, gt=0, description="'harmonic': spring constant of each atom to its start site"
    )
    curl_eV_A2: float = Field(
        0.0,
        description="'harmonic': strength of an added rotational (non-conservative) force "
        "field, for testing integrators against direct-force models",
    )
    reference: ReferenceSettings | None = Field(
        None, description="reference-engine section for 'reference'"
    )
    q4: Q4RestraintSettings | None = Field(None, description="settings for 'q4_restraint'")
    contact_wall: dict[str, Any] | None = Field(
        None, description="'metatomic': the repulsive wall added to the model below the "
        "closest contacts of the system's training data (data/<system>/contact_wall.json; "
        ":mod:`petmad.simulate.contact_wall`)")
    library: LibraryModel | None = Field(
        None, description="'library': a model library entry (SevenNet, CHGNet, an ASE "
        "calculator factory; exported metatomic models run as 'metatomic')")

    @model_validator(mode="after")
    def _check_kind_fields(self) -> PotentialSpec:
        if self.kind == "metatomic" and not self.path:
            raise ValueError("a 'metatomic' potential needs 'path' (the exported .pt model)")
        if self.kind == "reference" and self.reference is None:
            raise ValueError("a 'reference' potential needs the 'reference' settings section")
        if self.kind == "library" and self.library is None:
            raise ValueError("a 'library' potential needs the 'library' entry")
        if self.kind == "q4_restraint" and self.q4 is None:
            raise ValueError("a 'q4_restraint' potential needs the 'q4' settings section")
        if self.non_conservative and self.kind not in ("metatomic", "harmonic"):
            raise ValueError(f"'{self.kind}' potentials have no direct-force head")
        return self


class Thermostat(Strict):
    kind: Literal["svr", "langevin", "pile_l", "pile_g"] = Field(
        "svr",
        description="svr: stochastic velocity rescaling (global, leaves dynamics nearly "
        "unperturbed); langevin: local white noise; pile_l / pile_g: path-integral Langevin "
        "(local / global on the centroid), chosen automatically for PIMD when svr/langevin "
        "is asked for",
    )
    tau_fs: float = Field(100.0, gt=0, description="thermostat time constant (fs)")
    pile_lambda: float = Field(
        0.5, gt=0, description="PILE damping of internal ring-polymer modes"
    )


class Barostat(Strict):
    kind: Literal["isotropic", "flexible", "axis", "plane"] = Field(
        "isotropic",
        description="isotropic: volume only; flexible: full cell (NST); axis: one cell "
        "vector length along 'axis' only, other components fixed (solid-liquid interfaces); "
        "plane: the cell in the plane normal to 'axis' only, every component along 'axis' "
        "fixed (slabs with vacuum, whose normal must not feel the kinetic pressure)",
    )
    pressure_bar: float = Field(1.0, description="external pressure (bar)")
    tau_fs: float = Field(1000.0, gt=0, description="piston time constant (fs)")
    axis: Literal["x", "y", "z"] = Field(
        "z", description="the free axis (kind 'axis') or the plane's normal (kind 'plane')")


class PathIntegral(Strict):
    beads: int = Field(1, ge=1, description="number of ring-polymer beads P (1 = classical)")
    heat_capacity_stride: int = Field(
        0,
        ge=0,
        description="steps between scaled-coordinates heat-capacity estimator outputs "
        "(each costs two extra force calls per bead); 0 = off",
    )
    heat_capacity_fd_delta: float = Field(
        5e-3,
        description="relative finite-difference step in β of the heat-capacity estimator. "
        "Positive: fixed, two extra force calls per bead per output; the rounding noise of "
        "float32 models averages out.  Negative: i-PI's adaptive step, halved until the "
        "difference quotient looks smooth (many more force calls, and with float32 models "
        "the shrinking step only amplifies rounding noise)",
    )
    bead_trajectories: bool = Field(False, description="also write every bead's positions")


class ReplicaExchange(Strict):
    temperatures_K: list[PositiveFloat] = Field(..., min_length=2,
                                                description="temperature ladder")
    attempt_stride: int = Field(
        10, ge=1, description="steps between exchange attempts (on average) per replica pair"
    )

    @classmethod
    def geometric(cls, low: float, high: float, count: int, **kwargs: Any) -> ReplicaExchange:
        import numpy as np

        return cls(temperatures_K=[float(t) for t in np.geomspace(low, high, count)], **kwargs)


class AtomSwaps(Strict):
    species: list[str] = Field(..., min_length=2, description="species whose atoms may swap")
    attempts_per_step: float = Field(
        1.0, gt=0, description="mean number of swap attempts per MD step (Poisson)"
    )


class MultipleTimeStepping(Strict):
    outer_every: int = Field(
        8, ge=2, description="inner direct-force steps per conservative correction (paper: 8)"
    )


class Records(Strict):
    properties_stride: int = Field(10, ge=1, description="steps between property rows")
    trajectory_stride: int = Field(100, ge=1, description="steps between saved frames")
    velocities: bool = Field(False, description="save velocities with the frames")
    forces: bool = Field(False, description="save forces with the frames")
    checkpoint_stride: int = Field(
        500, ge=1, description="steps between checkpoints a killed run resumes from"
    )


class DynamicsSettings(Strict):
    ensemble: Literal["nve", "nvt", "npt"] = Field("nvt", description="statistical ensemble")
    temperature_K: float = Field(300.0, gt=0, description="target (and initial) temperature")
    timestep_fs: float = Field(1.0, gt=0, description="MD time step (fs)")
    steps: int = Field(1000, ge=1, description="number of MD steps")
    seed: int = Field(12345, description="seed of every random number in the run")
    initial_velocities: Literal["thermal", "zero"] = Field(
        "thermal", description="Maxwell-Boltzmann at temperature_K, or at rest"
    )
    fix_com: bool = Field(
        True,
        description="remove centre-of-mass motion (3 degrees of freedom fewer); switch off "
        "for atoms tethered to fixed sites, whose centre of mass is not conserved",
    )
    fixed_atoms: list[NonNegativeInt] = Field(
        default_factory=list,
        description="indices of atoms held fixed (e.g. the solid half while the other melts)",
    )
    thermostat: Thermostat = Field(default_factory=Thermostat)
    barostat: Barostat | None = Field(None, description="required for npt")
    path_integral: PathIntegral = Field(default_factory=PathIntegral)
    replica_exchange: ReplicaExchange | None = None
    atom_swaps: AtomSwaps | None = None
    mts: MultipleTimeStepping | None = Field(
        None,
        description="multiple time stepping: needs one potential with non_conservative "
        "true (inner steps) and its conservative twin (outer correction)",
    )
    records: Records = Field(default_factory=Records)
    stop: StopCriteria = Field(default_factory=StopCriteria)

    @model_validator(mode="after")
    def _check_combinations(self) -> DynamicsSettings:
        if self.ensemble == "npt" and self.barostat is None:
            raise ValueError("ensemble 'npt' needs a 'barostat' section")
        if self.ensemble != "npt" and self.barostat is not None:
            raise ValueError(f"a barostat makes no sense in ensemble '{self.ensemble}'")
        if self.replica_exchange is not None and self.ensemble == "nve":
            raise ValueError("replica exchange needs a thermostat (nvt or npt)")
        if self.fixed_atoms and self.fix_com:
            raise ValueError("fixed atoms pin the centre of mass already: set fix_com false")
        return self
