"""The failures users cause (bad config, bad files, engines that cannot run, outputs that
cannot be written): every entry point (``python -m petmad``, ``python -m analysis.<name>``)
runs through :func:`run_reporting_errors`, which turns these into one ``error:`` line and
exit status 2; anything else is a bug and keeps its traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

EXIT_STATUS = 2


def expected_errors() -> tuple[type[Exception], ...]:
    """The exception types of users' failures.  Imported only when something failed, so
    the analysis entry points do not load the simulation code to report a missing file."""
    from petmad.config import ConfigError
    from petmad.data.geometry import GeometryError
    from petmad.dipoles import DipoleDataError
    from petmad.io import StructureFileError, UnreadableFileError
    from petmad.models.distributed import DistributedTrainingError
    from petmad.models.training import ModelError
    from petmad.reference.engines import EngineUnavailable, LabelFileError
    from petmad.reference.labeling import LabelingError
    from petmad.simulate.potentials import SimulationStopped

    return (
        ConfigError,
        DipoleDataError,
        DistributedTrainingError,
        EngineUnavailable,
        GeometryError,
        LabelFileError,
        LabelingError,
        ModelError,
        SimulationStopped,
        StructureFileError,
        UnreadableFileError,
        # missing inputs, unwritable outputs (petmad.io.OutputError names the output),
        # full disks
        OSError,
    )


def one_line(text: object) -> str:
    return "; ".join(line.strip() for line in str(text).splitlines() if line.strip())


def run_reporting_errors(action: Callable[..., Any], *args: Any) -> int:
    """Call ``action(*args)``; return 0, or :data:`EXIT_STATUS` after printing one
    ``error:`` line when it fails for one of the :func:`expected_errors`."""
    from pydantic import ValidationError

    try:
        action(*args)
    except ValidationError as exc:  # JSON settings given on the command line
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "<top level>"
        shown = "" if first["type"] == "missing" else f" (got {first.get('input')!r})"
        print(f"error: invalid {exc.title}: {where}: {one_line(first['msg'])}{shown}",
              file=sys.stderr)
        return EXIT_STATUS
    except Exception as exc:
        if not isinstance(exc, expected_errors()):
            raise
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return EXIT_STATUS
    return 0
