"""Build the PET a configuration describes, without data or training: to count its
parameters (the paper's PET-MAD has about 3.3 M, II.B) and to check its LoRA layers.

``python -m petmad.models.architecture config.yaml presets/paper.yaml`` prints the count
of the merged configuration's pet-mad, with and without its direct-force head.
"""

from __future__ import annotations

import sys
from typing import Any

from petmad.models.options import DIRECT_FORCES


def build_pet(model_hypers: dict[str, Any], elements: list[str], *,
              direct_forces: bool = False):
    """An untrained metatrain PET with ``model_hypers`` (completed by metatrain's
    defaults) for ``elements``, with an energy head and optionally a direct-force head."""
    from ase.data import atomic_numbers
    from metatrain.pet import PET
    from metatrain.utils.architectures import get_default_hypers
    from metatrain.utils.data import DatasetInfo
    from metatrain.utils.data.target_info import (
        get_energy_target_info,
        get_generic_target_info,
    )

    targets = {"energy": get_energy_target_info("energy", {"quantity": "energy",
                                                           "unit": "eV"})}
    if direct_forces:
        targets[DIRECT_FORCES] = get_generic_target_info(DIRECT_FORCES, {
            "quantity": "force", "unit": "eV/A", "type": {"cartesian": {"rank": 1}},
            "sample_kind": "atom", "num_subtargets": 1, "description": ""})
    info = DatasetInfo(length_unit="Angstrom",
                       atomic_types=sorted(atomic_numbers[e] for e in elements),
                       targets=targets)
    hypers = get_default_hypers("pet")["model"]
    hypers.update(model_hypers)
    return PET(hypers, info)


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


def main(argv: list[str]) -> None:
    import argparse

    from petmad.config import load_config_files

    parser = argparse.ArgumentParser(
        prog="python -m petmad.models.architecture",
        description="count the parameters of the pet-mad a configuration describes")
    parser.add_argument("configfiles", nargs="*", default=["config.yaml"],
                        help="config files, later ones overlaying earlier ones")
    config = load_config_files(parser.parse_args(argv).configfiles)
    hypers = config.training.pet.model_dump()
    elements = config.data.mad.elements
    energy_only = count_parameters(build_pet(hypers, elements))
    with_head = count_parameters(build_pet(hypers, elements, direct_forces=True))
    print(f"pet-mad: {energy_only:,} parameters (energy), {with_head:,} with the direct-force "
          f"head; {len(elements)} elements; {hypers}")


if __name__ == "__main__":
    main(sys.argv[1:])
