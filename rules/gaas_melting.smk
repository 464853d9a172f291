# Case study 2: GaAs melting point by interface pinning (paper II.E, S11.B, Fig. 5).


rule gaas_interface:
    message:
        "GaAs solid-liquid interface with {wildcards.model}"
    input:
        model=lambda w: model_file(w.model, "gaas"),
        wall=lambda w: contact_wall_file(w.model, "gaas"),
    output:
        "runs/gaas/{model}/interface/status.json",
    params:
        settings=as_json(CFG.studies.gaas_melting),
        reference=as_json(CFG.reference),
        model_file=model_arguments,
        seed=CFG.seed,
        device=CFG.device,
    log:
        "logs/gaas_interface/{model}.log",
    benchmark:
        "logs/gaas_interface/{model}.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=CFG.studies.gaas_melting.runtime_min,
        gpu=model_resources,
    shell:
        "python -m petmad gaas-pinning --model {wildcards.model} {params.model_file} "
        "--reference '{params.reference}' --settings '{params.settings}' "
        "--seed {params.seed} --device {params.device} --threads {threads} "
        "--output-dir runs/gaas/{wildcards.model}/interface > {log} 2>&1"


rule gaas_pinning:
    message:
        "GaAs Q4 references and pinned interface at {wildcards.temperature} K with {wildcards.model}"
    input:
        model=lambda w: model_file(w.model, "gaas"),
        wall=lambda w: contact_wall_file(w.model, "gaas"),
        interface="runs/gaas/{model}/interface/status.json",
    output:
        "runs/gaas/{model}/{temperature}K/status.json",
    params:
        settings=as_json(CFG.studies.gaas_melting),
        reference=as_json(CFG.reference),
        model_file=model_arguments,
        seed=lambda w: CFG.seed + 104729 + int(float(w.temperature)),
        device=CFG.device,
    log:
        "logs/gaas_pinning/{model}-{temperature}K.log",
    benchmark:
        "logs/gaas_pinning/{model}-{temperature}K.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=CFG.studies.gaas_melting.runtime_min,
        gpu=model_resources,
    shell:
        "python -m petmad gaas-pinning --model {wildcards.model} {params.model_file} "
        "--reference '{params.reference}' --settings '{params.settings}' "
        "--temperature {wildcards.temperature} --interface {input.interface} "
        "--seed {params.seed} --device {params.device} --threads {threads} "
        "--output-dir runs/gaas/{wildcards.model}/{wildcards.temperature}K > {log} 2>&1"


rule gaas_melting:
    message:
        "GaAs melting points with LLPR-ensemble spreads"
    input:
        [f"runs/gaas/{m}/{t}K/status.json" for m, t in gaas_points()],
    output:
        figure=report("results/gaas_melting.pdf", caption="../report/gaas_melting.rst",
                      category="Case studies"),
        table=report("results/gaas_melting.csv", caption="../report/gaas_melting_csv.rst",
                     category="Case studies"),
    params:
        settings=as_json(CFG.studies.gaas_melting),
    log:
        "logs/gaas_melting.log",
    benchmark:
        "logs/gaas_melting.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "python -m analysis.gaas_melting --status {input} --settings '{params.settings}' "
        "--table {output.table} --figure {output.figure} > {log} 2>&1"
