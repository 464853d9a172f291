"""The merged paper preset against the paper, value by value (issue 24's table), and the
LoRA scaling metatrain applies."""

import pytest

from petmad.config import load_config_files
from petmad.models.architecture import build_pet, count_parameters
from petmad.models.options import metatrain_lora_alpha, pet_options


@pytest.fixture
def paper(root):
    return load_config_files([str(root / "config.yaml"), str(root / "presets" / "paper.yaml")])


def test_lora_rank_and_scaling_are_the_papers(paper):
    finetune = paper.training.finetune
    assert (finetune.method, finetune.rank, finetune.scaling) == ("lora", 8, 0.5)  # IV.E
    assert metatrain_lora_alpha(finetune) == 4.0  # metatrain multiplies by alpha / rank
    assert finetune.energy_weight == 0.1  # IV.D's, not the default preset's 10


def test_pet_mad_learns_its_short_range_without_zbl(paper):
    assert paper.training.pet.zbl is False  # S4: from MAD's close contacts
    assert paper.studies.contact_wall.enabled is False  # nor a wall added in simulations


def test_every_study_runs_with_the_reference_engine(paper):
    """The scorecard holds every model against the reference's own run (DFT MD): each
    study plans its reference jobs, and the campaign table costs them."""
    from petmad.campaign import campaign_cost
    from petmad.models.registry import study_models

    assert paper.reference.engine == "gpaw" and not paper.study_models
    for system in paper.systems:
        assert study_models(paper, system) == ["pet-mad", "bespoke", "lora", "reference"]
    table = campaign_cost(paper)
    simulated = table[(table["stage"] == "simulation") & (table["model"] == "reference")]
    studies = {"lps_conductivity", "gaas_melting", "hea_segregation", "water_pimd",
               "succinic_nmr", "bto_dielectric"}
    assert studies <= set(simulated["study"])


@pytest.mark.parametrize("preset", [[], ["presets/paper.yaml"]])
def test_metatrain_applies_the_configured_scaling(root, preset):
    """The options the workflow writes, given to metatrain's own LoRA injection, give
    layers whose update is multiplied by the configured scaling (0.5), not 0.5 / rank."""
    from metatrain.pet.modules.finetuning import LoRALinear, apply_finetuning_strategy

    config = load_config_files([str(root / "config.yaml"), *(str(root / p) for p in preset)])
    finetune = config.training.finetune
    tiny = {"d_pet": 8, "d_head": 8, "d_node": 8, "d_feedforward": 8, "num_heads": 2}
    options = pet_options({"train": "t.xyz", "val": "v.xyz"}, tiny, finetune, seed=1,
                          device="cpu", finetune=finetune, base_checkpoint="base.ckpt")
    strategy = {"inherit_heads": {}, **options["architecture"]["training"]["finetune"]}
    model = apply_finetuning_strategy(build_pet(tiny, ["H", "O"]), strategy)
    layers = [m for m in model.modules() if isinstance(m, LoRALinear)]
    assert layers
    assert all(layer.scaling == pytest.approx(0.5) for layer in layers)
    assert all(layer.lora_A.out_features == finetune.rank for layer in layers)


def test_mad_is_the_papers(paper):
    from ase.data import atomic_numbers

    mad = paper.data.mad
    # II.A: 85 elements, Z = 1 to 86 except astatine
    assert sorted(atomic_numbers[e] for e in mad.elements) == [z for z in range(1, 87)
                                                                 if z != 85]
    # II.A: the converged, filtered sizes, 95 595 in all; generated with room to spare
    assert sum(mad.counts.values()) == 95595
    assert mad.counts["randcomp"] == 2800
    assert mad.generated_count("randcomp") >= mad.counts["randcomp"] / 0.55  # IV.B: 55 %
    assert all(mad.generated_count(s) >= mad.counts[s] / 0.95 for s in mad.counts)
    # IV.B: 25 Å of vacuum between periodic images along non-periodic directions
    assert 2 * mad.vacuum_A == 25.0
    assert 2 * paper.reference.gpaw.vacuum_A == 25.0
    assert paper.data.force_filter_eV_A == {"rattled": 100.0, "randcomp": 100.0,
                                            "default": 50.0}  # II.A


def test_system_set_sizes(paper):
    from petmad.campaign import dataset_sizes

    # S10.E: 1228 water training structures (split per subset), mostly MD frames;
    # S11.C: 2000 HEA structures
    assert dataset_sizes(paper, "water")[1] == 1228
    assert paper.data.water.md.frames > paper.data.water.n_structures
    assert paper.data.hea.n_structures == 2000


def test_pet_architecture_and_size(paper):
    pet = paper.training.pet
    # IV.D: cutoff 4.5 Å, 2 x 2 layers, token 256, 8 heads, 512-neuron output MLP
    assert (pet.cutoff, pet.num_gnn_layers, pet.num_attention_layers, pet.d_pet,
            pet.num_heads, pet.d_head) == (4.5, 2, 2, 256, 8, 512)
    assert pet.featurizer_type == "residual"  # IV.C: heads summed over layers
    # II.B: about 3.3 M parameters (the layout of metatrain 2026.4's PET differs: 3.71 M)
    count = count_parameters(build_pet(pet.model_dump(), paper.data.mad.elements))
    assert 3.0e6 < count < 4.0e6, count


def test_pretraining_on_eight_gpus_with_the_papers_batch(paper):
    # IV.D: 8 H100s, batch 24 per GPU, 1500 epochs, Adam from 1e-4, energy weight 0.1
    pretrain = paper.training.pretrain
    assert (pretrain.processes, pretrain.batch_size, pretrain.num_epochs) == (8, 24, 1500)
    assert (pretrain.learning_rate, pretrain.energy_weight) == (1e-4, 0.1)
    assert paper.device == "cuda"  # distributed training runs on NCCL only


def test_bespoke_pets_keep_the_papers_energy_weight(paper):
    # IV.D's 0.1, not the default preset's 1 for 20 epochs
    assert paper.training.bespoke.energy_weight == 0.1


def test_learning_curves_of_mad_and_of_water_at_rank_32(paper):
    from petmad.campaign import learning_curve_points, mad_learning_curve_fractions

    curves = paper.training.learning_curves
    assert set(curves.systems) == {"lps", "gaas", "hea", "water", "succinic", "bto"}  # S10
    # S10.A / Fig. S8: pet-mad trained on fractions of MAD (20 % and 60 % are quoted)
    assert {0.2, 0.6} <= set(mad_learning_curve_fractions(paper))
    # S10.E / Fig. S12: water at LoRA rank 8 and 32, at every fraction and the whole set
    water = {(m, f) for s, m, f in learning_curve_points(paper) if s == "water"}
    assert {("lora-r32", f) for f in [*curves.fractions, 1.0]} <= water
    assert {("lora", f) for f in curves.fractions} <= water
    assert paper.training.finetune.rank == 8


def test_gaas_protocol(paper):
    gaas = paper.studies.gaas_melting
    assert gaas.crystal == "gaas"
    assert gaas.supercell == [3, 3, 16]  # 1152 atoms
    assert gaas.timestep_fs == 4.0 and gaas.pinning_steps * gaas.timestep_fs == 1e6  # 1 ns
    assert gaas.temperatures_K == [950, 1000, 1050, 1100, 1150, 1200]


def test_oversampled_subsets_are_cut_to_their_counts():
    """MAD's counts are sizes after the filters: the split keeps the first ``count``
    structures of a subset that pass them, and reports the surplus."""
    import numpy as np
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator

    from petmad.data.split import filter_and_split

    frames = []
    for index in range(30):
        subset = "bulk" if index % 3 else "randcomp"
        atoms = Atoms("Cu2", positions=[[0, 0, 0], [2.5, 0, 0]], cell=[5, 5, 5], pbc=True)
        force = 200.0 if index in (0, 1) else 0.1  # one outlier in each subset
        atoms.calc = SinglePointCalculator(atoms, energy=-1.0, forces=np.full((2, 3), force),
                                           stress=np.zeros(6))
        atoms.info.update(subset=subset, structure_index=index)
        frames.append(atoms)
    result = filter_and_split(frames, (0.8, 0.1, 0.1), {"default": 50.0}, seed=1,
                              max_per_subset={"bulk": 15, "randcomp": 9})
    kept = [a for part in result.parts.values() for a in part]
    assert sum(a.info["subset"] == "bulk" for a in kept) == 15
    assert sum(a.info["subset"] == "randcomp" for a in kept) == 9
    assert result.surplus == {"bulk": 4}  # 20 bulk, one filtered, 15 kept
    assert len(result.filtered) == 2
    assert max(a.info["structure_index"] for a in kept if a.info["subset"] == "bulk") == 23
