# petmad-bench: every simulation benchmark of the PET-MAD paper, end to end.
# `snakemake --cores 8 all` builds every figure; `snakemake results/<figure>.pdf` only what
# that figure needs.  config.yaml is the default preset; presets/*.yaml overlay it.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/models.smk"
include: "rules/lps_conductivity.smk"
include: "rules/gaas_melting.smk"
include: "rules/hea_segregation.smk"
include: "rules/water_pimd.smk"
include: "rules/succinic_nmr.smk"
include: "rules/bto_dielectric.smk"
include: "rules/supplementary.smk"
include: "rules/nc_mts.smk"
include: "rules/consistency.smk"
include: "rules/configuration.smk"


# Light rules run where Snakemake runs, not as cluster jobs.
localrules:
    all,
    dataset_summary,
    accuracy_benchmarks,
    learning_curves,
    rotational_discrepancy,
    lps_conductivity,
    gaas_melting,
    hea_segregation,
    water_pimd,
    succinic_nmr,
    bto_dielectric,
    dimers,
    relaxations,
    phonons,
    speed,
    nc_mts,
    consistency,
    contact_wall,
    contact_wall_activity,
    configuration,
    campaign_cost,


rule all:
    default_target: True
    input:
        rules.dataset_summary.output,
        rules.accuracy_benchmarks.output,
        rules.learning_curves.output,
        rules.rotational_discrepancy.output,
        rules.lps_conductivity.output if "lps" in CFG.systems else [],
        rules.gaas_melting.output if "gaas" in CFG.systems else [],
        rules.hea_segregation.output if "hea" in CFG.systems else [],
        rules.water_pimd.output if "water" in CFG.systems else [],
        rules.succinic_nmr.output if "succinic" in CFG.systems else [],
        rules.bto_dielectric.output if "bto" in CFG.systems else [],
        rules.dimers.output,
        rules.relaxations.output,
        rules.phonons.output,
        rules.speed.output,
        rules.nc_mts.output,
        rules.consistency.output,
        rules.contact_wall_activity.output,
        rules.configuration.output,
        rules.campaign_cost.output,
