"""The failures users cause (bad config, bad files, engines that cannot run): the CLI turns
these into one ``error:`` line and a non-zero exit; anything else is a bug."""

from petmad.config import ConfigError
from petmad.data.geometry import GeometryError
from petmad.dipoles import DipoleDataError
from petmad.io import StructureFileError
from petmad.models.training import ModelError
from petmad.reference.engines import EngineUnavailable, LabelFileError
from petmad.reference.labeling import LabelingError
from petmad.simulate.potentials import SimulationStopped

EXPECTED_ERRORS: tuple[type[Exception], ...] = (
    ConfigError,
    DipoleDataError,
    EngineUnavailable,
    GeometryError,
    LabelFileError,
    LabelingError,
    ModelError,
    SimulationStopped,
    StructureFileError,
    FileNotFoundError,
)
