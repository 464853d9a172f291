# Consistency scorecard (issue of trust, beyond the paper's figures): every case study's
# headline numbers per model, against bespoke and the reference engine's own run.

# The tables each study contributes, for the studies this configuration runs.
STUDY_TABLES = {
    "lps": ["results/lps_conductivity.csv"],
    "gaas": ["results/gaas_melting.csv"],
    "hea": ["results/hea_segregation.csv"],
    "water": ["results/water_pimd.csv", "results/water_rdf.csv"],
    "succinic": ["results/succinic_nmr.csv"],
    "bto": ["results/bto_dielectric.csv"],
}


rule consistency:
    message:
        "Consistency scorecard: headline numbers against bespoke and the reference"
    input:
        [table for system in CFG.systems for table in STUDY_TABLES[system]],
    output:
        figure=report("results/consistency.pdf", caption="../report/consistency.rst",
                      category="Consistency"),
        table=report("results/consistency.csv", caption="../report/consistency_csv.rst",
                     category="Consistency"),
    log:
        "logs/consistency.log",
    benchmark:
        "logs/consistency.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m analysis.consistency --tables {input} --table {output.table} "
        "--figure {output.figure} > {log} 2>&1"


rule contact_wall_activity:
    message:
        "Where the contact wall acted in the case-study runs"
    input:
        [table for system in CFG.systems for table in STUDY_TABLES[system]],
    output:
        report("results/contact_wall.csv", caption="../report/contact_wall_csv.rst",
               category="Consistency"),
    log:
        "logs/contact_wall_activity.log",
    benchmark:
        "logs/contact_wall_activity.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m analysis.contact_wall --runs runs --table {output} > {log} 2>&1"
