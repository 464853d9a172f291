"""Reference energy engines, chosen by name in ``config.reference.engine``.

Each engine is a thin adapter: it knows how to make an ASE calculator for a structure
(or, for ``file``, how to read labels a user already has), and how to describe itself
(name, version, settings) so every labeled file records what labeled it.
"""

from petmad.reference.engines import (
    ENGINES,
    EngineUnavailable,
    LabelFileError,
    ReferenceEngine,
    make_engine,
)

__all__ = ["ENGINES", "EngineUnavailable", "LabelFileError", "ReferenceEngine", "make_engine"]
