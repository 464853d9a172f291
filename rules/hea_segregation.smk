# Case study 3: CoCrFeMnNi (111) surface segregation by REMD/MC (paper II.F, S11.C, Fig. 6).


rule hea_remd:
    message:
        "CoCrFeMnNi(111) replica exchange with atom swaps, {wildcards.model}"
    input:
        model=lambda w: model_file(w.model, "hea"),
        wall=lambda w: contact_wall_file(w.model, "hea"),
    output:
        "runs/hea/{model}/status.json",
    params:
        settings=as_json(CFG.studies.hea_segregation),
        reference=as_json(CFG.reference),
        model_file=model_arguments,
        # One seed for every model: they all start from the same random slab.
        seed=CFG.seed + 7919,
        device=CFG.device,
    log:
        "logs/hea_remd/{model}.log",
    benchmark:
        "logs/hea_remd/{model}.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=CFG.studies.hea_segregation.runtime_min,
        gpu=model_resources,
    shell:
        "python -m petmad hea-remd --model {wildcards.model} {params.model_file} "
        "--reference '{params.reference}' --settings '{params.settings}' "
        "--seed {params.seed} --device {params.device} --threads {threads} "
        "--output-dir runs/hea/{wildcards.model} > {log} 2>&1"


rule hea_segregation:
    message:
        "Gibbs surface excess of CoCrFeMnNi(111) per model"
    input:
        expand("runs/hea/{model}/status.json", model=study_models("hea")),
    output:
        figure=report("results/hea_segregation.pdf", caption="../report/hea_segregation.rst",
                      category="Case studies"),
        table=report("results/hea_segregation.csv", caption="../report/hea_segregation_csv.rst",
                     category="Case studies"),
    params:
        settings=as_json(CFG.studies.hea_segregation),
    log:
        "logs/hea_segregation.log",
    benchmark:
        "logs/hea_segregation.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "python -m analysis.hea_segregation --status {input} --settings '{params.settings}' "
        "--table {output.table} --figure {output.figure} > {log} 2>&1"
