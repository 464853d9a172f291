# Direct forces and multiple time stepping (paper S12, Figs. S16-S17): pet-mad only, the
# model trained with a direct-force head.


rule nc_mts_md:
    message:
        "Water with conservative forces, direct forces and MTS, NVE and NVT, with {wildcards.model}"
    input:
        model=lambda w: model_file(w.model, None),
    output:
        "runs/nc_mts/{model}/status.json",
    wildcard_constraints:
        model="pet-mad",
    params:
        settings=as_json(CFG.studies.nc_mts),
        seed=CFG.seed + 32452843,
        device=CFG.device,
    log:
        "logs/nc_mts_md/{model}.log",
    benchmark:
        "logs/nc_mts_md/{model}.benchmark.tsv"
    conda:
        CONDA_ENV
    # One job runs the six variants one after the other, so their speed-ups are measured
    # side by side on the same machine.
    threads: 1
    resources:
        mem_mb=4000,
        runtime=CFG.studies.nc_mts.runtime_min,
        gpu=model_resources,
    shell:
        "python -m petmad nc-mts --model {wildcards.model} --model-file {input.model} "
        "--settings '{params.settings}' --seed {params.seed} --device {params.device} "
        "--threads {threads} --output-dir runs/nc_mts/{wildcards.model} > {log} 2>&1"


rule nc_mts:
    message:
        "Direct forces and MTS: temperatures, g(r), MSD and speed-ups"
    input:
        "runs/nc_mts/pet-mad/status.json",
    output:
        figure=report("results/nc_mts.pdf", caption="../report/nc_mts.rst",
                      category="Supplementary benchmarks"),
        table=report("results/nc_mts.csv", caption="../report/nc_mts_csv.rst",
                     category="Supplementary benchmarks"),
    params:
        settings=as_json(CFG.studies.nc_mts),
    log:
        "logs/nc_mts.log",
    benchmark:
        "logs/nc_mts.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m analysis.nc_mts --status {input} --settings '{params.settings}' "
        "--table {output.table} --figure {output.figure} > {log} 2>&1"
