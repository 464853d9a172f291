"""Render the i-PI input file of a run from its settings (pure text, no I/O).

The file is what a user reads to see exactly what ran, and can rerun by hand with
``i-pi input.xml`` from the run directory (with the project on ``PYTHONPATH``).  Every
number carries its unit; i-PI converts to atomic units itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from petmad.simulate.settings import DynamicsSettings

PES_FILE = Path(__file__).with_name("petmad_ipi_pes.py")
PREFIX = "sim"
# Full double precision in property files and checkpoints: a resumed run then continues
# bit-for-bit from where the killed one stopped (i-PI's default keeps 9 digits).
FLOAT_FORMAT = "%24.16e"


@dataclass(frozen=True)
class ForceTerm:
    """One summed potential term as i-PI sees it."""

    name: str
    spec_file: str
    extras: tuple[str, ...] = ()
    mts_weights: tuple[float, float] | None = None
    plumed_file: str | None = None  # set: PLUMED applies this term as an i-PI bias
    bias: bool = False  # applied as i-PI's ensemble bias (a PLUMED term always is)

    @property
    def is_bias(self) -> bool:
        return self.bias or self.plumed_file is not None


@dataclass(frozen=True)
class RunFiles:
    """Names of the inputs inside the run directory."""

    template: str
    initial: tuple[str, ...]  # one structure file per replica
    stop_file: str


def force_terms(terms: list[ForceTerm]) -> list[ForceTerm]:
    """The terms in i-PI's <forces>, in order (pot_component_raw's indices)."""
    return [term for term in terms if not term.is_bias]


def bias_terms(terms: list[ForceTerm]) -> list[ForceTerm]:
    """The terms i-PI applies as its ensemble bias (PLUMED's, in runs that use it)."""
    return [term for term in terms if term.is_bias]


def plumed_updates(settings: DynamicsSettings) -> bool:
    """Whether i-PI calls PLUMED's update each step (its 'metad' smotion), which is what
    makes PLUMED write COLVAR.  i-PI updates at the centroid of one system only, so not
    under replica exchange or path integrals; the values are recorded by i-PI either way."""
    return settings.replica_exchange is None and settings.path_integral.beads == 1


def _thermostat(settings: DynamicsSettings, indent: str) -> str:
    thermostat = settings.thermostat
    kind = thermostat.kind
    if settings.path_integral.beads > 1:
        kind = {"svr": "pile_g", "langevin": "pile_l"}.get(kind, kind)
    else:
        kind = {"pile_g": "svr", "pile_l": "langevin"}.get(kind, kind)
    lines = [f'<thermostat mode="{kind}">',
             f'  <tau units="femtosecond">{thermostat.tau_fs}</tau>']
    if kind.startswith("pile"):
        lines.append(f"  <pile_lambda>{thermostat.pile_lambda}</pile_lambda>")
    lines.append("</thermostat>")
    return "\n".join(indent + line for line in lines)


def _barostat(settings: DynamicsSettings, indent: str) -> str:
    barostat = settings.barostat
    mode = "isotropic" if barostat.kind == "isotropic" else "flexible"
    lines = [f'<barostat mode="{mode}">', f'  <tau units="femtosecond">{barostat.tau_fs}</tau>',
             # The piston gets its own gentle Langevin thermostat, as i-PI recommends.
             '  <thermostat mode="langevin">',
             f'    <tau units="femtosecond">{settings.thermostat.tau_fs}</tau>',
             "  </thermostat>"]
    # i-PI's cell matrix h is upper triangular: components xx, yy, zz, xy, xz, yz.
    components = ("xx", "yy", "zz", "xy", "xz", "yz")
    if barostat.kind == "axis":
        fixed = [c for c in components if c != 2 * barostat.axis]
        lines.append(f"  <hfix>[{', '.join(fixed)}]</hfix>")
    elif barostat.kind == "plane":
        fixed = [c for c in components if barostat.axis in c]
        lines.append(f"  <hfix>[{', '.join(fixed)}]</hfix>")
    lines.append("</barostat>")
    return "\n".join(indent + line for line in lines)


def _dynamics(settings: DynamicsSettings, indent: str) -> str:
    # Flexible and one-axis cells are i-PI's MTTK 'flexible' barostat at hydrostatic
    # pressure, which runs in the 'npt' integrator too.
    mode = settings.ensemble
    lines = [f'<dynamics mode="{mode}">',
             f'  <timestep units="femtosecond">{settings.timestep_fs}</timestep>']
    body = "\n".join(indent + line for line in lines)
    if settings.ensemble != "nve":
        body += "\n" + _thermostat(settings, indent + "  ")
    if settings.ensemble == "npt":
        body += "\n" + _barostat(settings, indent + "  ")
    if settings.mts is not None:
        body += f"\n{indent}  <nmts>[1, {settings.mts.outer_every}]</nmts>"
    return body + f"\n{indent}</dynamics>"


def _motion(settings: DynamicsSettings) -> str:
    dynamics = _dynamics(settings, "        " if settings.atom_swaps else "      ")
    fixcom = f"<fixcom>{settings.fix_com}</fixcom>"
    if settings.fixed_atoms:
        fixcom += f"<fixatoms>[{', '.join(str(i) for i in settings.fixed_atoms)}]</fixatoms>"
    if settings.atom_swaps is None:
        return f'    <motion mode="dynamics">\n      {fixcom}\n{dynamics}\n    </motion>'
    names = ", ".join(settings.atom_swaps.species)
    return (
        '    <motion mode="multi">\n'
        f'      <motion mode="dynamics">\n        {fixcom}\n{dynamics}\n      </motion>\n'
        '      <motion mode="atomswap">\n'
        f"        <atomswap><names>[{names}]</names>"
        f"<nxc>{settings.atom_swaps.attempts_per_step}</nxc></atomswap>\n"
        "      </motion>\n"
        "    </motion>"
    )


def _ensemble(settings: DynamicsSettings, temperature: float, terms: list[ForceTerm]) -> str:
    lines = ["    <ensemble>", f'      <temperature units="kelvin">{temperature}</temperature>']
    biases = bias_terms(terms)
    if biases:
        lines.append("      <bias>")
        lines += [f'        <force forcefield="{term.name}"/>' for term in biases]
        lines.append("      </bias>")
    if settings.ensemble == "npt":
        pressure = settings.barostat.pressure_bar
        lines.append(f'      <pressure units="bar">{pressure}</pressure>')
    lines.append("    </ensemble>")
    return "\n".join(lines)


def _forces(terms: list[ForceTerm]) -> str:
    lines = ["    <forces>"]
    for term in force_terms(terms):
        if term.mts_weights is None:
            lines.append(f'      <force forcefield="{term.name}"/>')
        else:
            weights = ", ".join(str(w) for w in term.mts_weights)
            lines.append(f'      <force forcefield="{term.name}">'
                         f"<mts_weights>[{weights}]</mts_weights></force>")
    lines.append("    </forces>")
    return "\n".join(lines)


def _outputs(settings: DynamicsSettings, terms: list[ForceTerm]) -> str:
    records = settings.records
    pimd = settings.path_integral.beads > 1
    properties = ["step", "time{picosecond}", "conserved{electronvolt}",
                  "temperature{kelvin}", "kinetic_md{electronvolt}", "potential{electronvolt}",
                  "pressure_md{bar}", "volume{angstrom3}", "cell_h{angstrom}"]
    if pimd:
        properties.append("kinetic_cv{electronvolt}")
    if len(terms) > 1:
        # pot_component_raw counts the <forces> terms only; PLUMED's are the ensemble bias.
        properties += [f"pot_component_raw({k}){{electronvolt}}"
                       for k in range(len(force_terms(terms)))]
    if bias_terms(terms):
        properties.append("ensemble_bias{electronvolt}")
    out = [f'  <output prefix="{PREFIX}">',
           (f'    <properties filename="out" stride="{records.properties_stride}" flush="1000">'
            f"[{', '.join(properties)}]</properties>")]
    stride = records.trajectory_stride

    def trajectory(filename: str, what: str) -> str:
        # format "ase" writes extxyz through ASE in ASE units (Å, Å/ase-time, eV/Å).
        return (f'    <trajectory filename="{filename}" stride="{stride}" format="ase" '
                f'cell_units="ase" flush="1000">{what}{{ase}}</trajectory>')

    out.append(trajectory("pos", "x_centroid" if pimd else "positions"))
    if records.velocities:
        out.append(trajectory("vel", "v_centroid" if pimd else "velocities"))
    if records.forces:
        out.append(trajectory("frc", "f_centroid" if pimd else "forces"))
    if pimd and settings.path_integral.bead_trajectories:
        out.append(trajectory("beads", "positions"))
    forces_index = 0
    for index, term in enumerate(terms):
        for key in term.extras:
            # i-PI writes a bias's extras per bead: x<index>_<key>_<bead>.
            source = "extras_bias" if term.is_bias else f"extras_component_raw({forces_index})"
            out.append(f'    <trajectory filename="x{index}_{key}" stride="{stride}" '
                       f'extra_type="{key}" flush="1000">{source}</trajectory>')
        forces_index += 0 if term.is_bias else 1
    if settings.path_integral.heat_capacity_stride:
        out.append(f'    <properties filename="heatcap" '
                   f'stride="{settings.path_integral.heat_capacity_stride}" flush="1000">'
                   f"[step, scaledcoords(fd_delta={settings.path_integral.heat_capacity_fd_delta})]"
                   "</properties>")
    out.append("  </output>")
    return "\n".join(out)


def render_input(settings: DynamicsSettings, terms: list[ForceTerm], files: RunFiles) -> str:
    """The i-PI input for ``settings`` with the summed ``terms``; one system per replica."""
    temperatures = (settings.replica_exchange.temperatures_K if settings.replica_exchange
                    else [settings.temperature_K])
    if len(files.initial) != len(temperatures):
        raise ValueError(f"{len(temperatures)} replicas but {len(files.initial)} initial files")
    # threading off: i-PI's threads share one random stream between replicas, which breaks
    # reproducibility; the soft-exit state is saved only as often as our checkpoints.
    parts = [(f'<simulation verbosity="quiet" floatformat="{FLOAT_FORMAT}" threading="False" '
              f'safe_stride="{settings.records.checkpoint_stride}">'),
             _outputs(settings, terms),
             f"  <total_steps>{settings.steps}</total_steps>",
             f"  <prng><seed>{settings.seed}</seed></prng>"]
    for term in terms:
        if term.plumed_file:
            extras = ", ".join(term.extras)
            parts.append(f'  <ffplumed name="{term.name}">\n'
                         f'    <file mode="ase">{files.template}</file>\n'
                         f"    <plumed_dat>{term.plumed_file}</plumed_dat>\n"
                         f"    <plumed_extras>[{extras}]</plumed_extras>\n  </ffplumed>")
            continue
        parameters = f"{{template: {files.template}, spec: {term.spec_file}, stop: {files.stop_file}}}"
        parts.append(f'  <ffdirect name="{term.name}">\n'
                     f"    <pes>custom</pes>\n    <pes_path>{PES_FILE}</pes_path>\n"
                     f"    <parameters>{parameters}</parameters>\n  </ffdirect>")
    nbeads = settings.path_integral.beads
    for index, (temperature, initial) in enumerate(zip(temperatures, files.initial)):
        prefix = f' prefix="rep{index:02d}"' if settings.replica_exchange else ""
        velocities = (f'      <velocities mode="thermal" units="kelvin">{temperature}</velocities>\n'
                      if settings.initial_velocities == "thermal" else "")
        parts.append(
            f"  <system{prefix}>\n"
            f'    <initialize nbeads="{nbeads}">\n'
            f'      <file mode="ase" units="ase" cell_units="ase">{initial}</file>\n'
            f"{velocities}"
            "    </initialize>\n"
            f"{_forces(terms)}\n{_ensemble(settings, temperature, terms)}\n{_motion(settings)}\n"
            "  </system>")
    if settings.replica_exchange:
        parts.append('  <smotion mode="remd">\n'
                     f"    <remd><stride>{settings.replica_exchange.attempt_stride}</stride></remd>\n"
                     "  </smotion>")
    elif any(term.plumed_file for term in terms) and plumed_updates(settings):
        names = ", ".join(term.name for term in terms if term.plumed_file)
        parts.append('  <smotion mode="metad">\n'
                     f"    <metad><metaff>[{names}]</metaff></metad>\n"
                     "  </smotion>")
    parts.append("</simulation>")
    return "\n".join(parts) + "\n"
