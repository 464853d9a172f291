# Case study 4: nuclear quantum effects in liquid water (paper II.G, S11.D, Fig. 7).


rule water_equilibration:
    message:
        "Liquid water box equilibrated with {wildcards.model}"
    input:
        model=lambda w: model_file(w.model, "water"),
        wall=lambda w: contact_wall_file(w.model, "water"),
    output:
        "runs/water/{model}/equilibration/status.json",
    params:
        settings=as_json(CFG.studies.water_pimd),
        reference=as_json(CFG.reference),
        model_file=model_arguments,
        # One seed for every model: they all start from the same random box.
        seed=CFG.seed + 15485863,
        device=CFG.device,
    log:
        "logs/water_equilibration/{model}.log",
    benchmark:
        "logs/water_equilibration/{model}.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=CFG.studies.water_pimd.runtime_min,
        gpu=model_resources,
    shell:
        "python -m petmad water-pimd --model {wildcards.model} {params.model_file} "
        "--reference '{params.reference}' --settings '{params.settings}' "
        "--seed {params.seed} --device {params.device} --threads {threads} "
        "--output-dir runs/water/{wildcards.model}/equilibration > {log} 2>&1"


rule water_md:
    message:
        "Liquid water, P = {wildcards.beads} beads, with {wildcards.model}"
    input:
        model=lambda w: model_file(w.model, "water"),
        wall=lambda w: contact_wall_file(w.model, "water"),
        equilibration="runs/water/{model}/equilibration/status.json",
    output:
        "runs/water/{model}/P{beads}/status.json",
    params:
        settings=as_json(CFG.studies.water_pimd),
        reference=as_json(CFG.reference),
        model_file=model_arguments,
        seed=lambda w: CFG.seed + 15485863 + int(w.beads),
        device=CFG.device,
    log:
        "logs/water_md/{model}-P{beads}.log",
    benchmark:
        "logs/water_md/{model}-P{beads}.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=CFG.studies.water_pimd.runtime_min,
        gpu=model_resources,
    shell:
        "python -m petmad water-pimd --model {wildcards.model} {params.model_file} "
        "--reference '{params.reference}' --settings '{params.settings}' "
        "--beads {wildcards.beads} --equilibration {input.equilibration} "
        "--seed {params.seed} --device {params.device} --threads {threads} "
        "--output-dir runs/water/{wildcards.model}/P{wildcards.beads} > {log} 2>&1"


rule water_pimd:
    message:
        "Water pair correlations and heat capacity against the number of beads"
    input:
        runs=[f"runs/water/{m}/P{p}/status.json" for m, p in water_points()],
        # the reference engine's own classical g(r), from its held-out MD frames, unless
        # the reference runs the study itself
        reference_md=held_out_reference_md("water"),
    output:
        figure=report("results/water_pimd.pdf", caption="../report/water_pimd.rst",
                      category="Case studies"),
        table=report("results/water_pimd.csv", caption="../report/water_pimd_csv.rst",
                     category="Case studies"),
        rdf=report("results/water_rdf.csv", caption="../report/water_rdf.rst",
                   category="Case studies"),
    params:
        settings=as_json(CFG.studies.water_pimd),
    log:
        "logs/water_pimd.log",
    benchmark:
        "logs/water_pimd.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "python -m analysis.water_pimd --status {input.runs} --settings '{params.settings}' "
        "--reference-md {input.reference_md} "
        "--table {output.table} --rdf-table {output.rdf} --figure {output.figure} > {log} 2>&1"
