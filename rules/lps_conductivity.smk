# Case study 1: Li3PS4 ionic conductivity by Green-Kubo (paper II.D, S11.A, Fig. 4).

rule lps_md:
    message:
        "Li3PS4 {wildcards.phase} at {wildcards.temperature} K with {wildcards.model}"
    input:
        model=lambda w: model_file(w.model, "lps"),
        wall=lambda w: contact_wall_file(w.model, "lps"),
        structure=lps_structure_input,
    output:
        "runs/lps/{model}/{phase}/{temperature}K/status.json",
    params:
        settings=as_json(CFG.studies.lps_conductivity),
        reference=as_json(CFG.reference),
        model_file=model_arguments,
        seed=lambda w: CFG.seed + 7919 * int(float(w.temperature)),
        device=CFG.device,
    log:
        "logs/lps_md/{model}-{phase}-{temperature}K.log",
    benchmark:
        "logs/lps_md/{model}-{phase}-{temperature}K.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=3000,
        runtime=CFG.studies.lps_conductivity.runtime_min,
        gpu=model_resources,
    shell:
        "python -m petmad lps-md --model {wildcards.model} {params.model_file} "
        "--reference '{params.reference}' --phase {wildcards.phase} "
        "--temperature {wildcards.temperature} --settings '{params.settings}' "
        "--seed {params.seed} --device {params.device} --threads {threads} "
        "--output-dir runs/lps/{wildcards.model}/{wildcards.phase}/{wildcards.temperature}K "
        "> {log} 2>&1"


rule lps_conductivity:
    message:
        "Li3PS4 conductivity: Green-Kubo and Einstein-Helfand, Arrhenius fits"
    input:
        [f"runs/lps/{m}/{p}/{t}K/status.json" for m, p, t in lps_points()],
    output:
        figure=report("results/lps_conductivity.pdf", caption="../report/lps_conductivity.rst",
                      category="Case studies"),
        table=report("results/lps_conductivity.csv", caption="../report/lps_conductivity_csv.rst",
                     category="Case studies"),
    params:
        settings=as_json(CFG.studies.lps_conductivity),
    log:
        "logs/lps_conductivity.log",
    benchmark:
        "logs/lps_conductivity.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "python -m analysis.lps_conductivity --status {input} --settings '{params.settings}' "
        "--table {output.table} --figure {output.figure} > {log} 2>&1"
