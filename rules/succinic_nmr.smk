# Case study 5: quantum nuclear effects on 1H NMR shieldings of α-succinic acid
# (paper II.H, S10.F, S11.E, Figs. 8 and S14).


rule succinic_reference:
    message:
        "GIAO reference shieldings of α-succinic acid clusters (run once; not in 'all' unless "
        "studies.succinic_nmr.reference_set is 'computed')"
    output:
        "data/succinic_nmr/reference.extxyz",
    params:
        settings=as_json(CFG.studies.succinic_nmr),
        reference=as_json(CFG.reference),
        seed=CFG.seed + 32452843,
        device=CFG.device,
    log:
        "logs/succinic_reference.log",
    benchmark:
        "logs/succinic_reference.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: CFG.studies.succinic_nmr.reference.threads
    resources:
        mem_mb=8000,
        runtime=1440,
    shell:
        "python -m petmad succinic-reference --settings '{params.settings}' "
        "--reference '{params.reference}' --seed {params.seed} --device {params.device} "
        "--threads {threads} --work-dir data/succinic_nmr/work --output {output} > {log} 2>&1"


rule succinic_shielding_model:
    message:
        "Linear SOAP model of 1H shieldings"
    input:
        shielding_reference_set(),
    output:
        model="models/succinic/shielding.npz",
        test="models/succinic/shielding_test.csv",
    params:
        settings=as_json(CFG.studies.succinic_nmr),
        seed=CFG.seed,
    log:
        "logs/succinic_shielding_model.log",
    benchmark:
        "logs/succinic_shielding_model.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "python -m petmad train-shielding --reference-set {input} "
        "--settings '{params.settings}' --seed {params.seed} --threads {threads} "
        "--output {output.model} --test-predictions {output.test} > {log} 2>&1"


rule succinic_relax:
    message:
        "α-succinic acid relaxed with {wildcards.model}"
    input:
        model=lambda w: model_file(w.model, "succinic"),
        wall=lambda w: contact_wall_file(w.model, "succinic"),
    output:
        "runs/succinic/{model}/relaxed/status.json",
    params:
        settings=as_json(CFG.studies.succinic_nmr),
        reference=as_json(CFG.reference),
        model_file=model_arguments,
        device=CFG.device,
    log:
        "logs/succinic_relax/{model}.log",
    benchmark:
        "logs/succinic_relax/{model}.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=model_resources,
    shell:
        "python -m petmad succinic-md --model {wildcards.model} {params.model_file} "
        "--reference '{params.reference}' --settings '{params.settings}' --seed 0 "
        "--device {params.device} --threads {threads} "
        "--output-dir runs/succinic/{wildcards.model}/relaxed > {log} 2>&1"


rule succinic_md:
    message:
        "α-succinic acid {wildcards.sampling} sampling with {wildcards.model}"
    input:
        model=lambda w: model_file(w.model, "succinic"),
        wall=lambda w: contact_wall_file(w.model, "succinic"),
        relaxed="runs/succinic/{model}/relaxed/status.json",
    output:
        "runs/succinic/{model}/{sampling}/status.json",
    params:
        settings=as_json(CFG.studies.succinic_nmr),
        reference=as_json(CFG.reference),
        model_file=model_arguments,
        seed=lambda w: CFG.seed + 49979687 + (w.sampling == "pimd"),
        device=CFG.device,
    log:
        "logs/succinic_md/{model}-{sampling}.log",
    benchmark:
        "logs/succinic_md/{model}-{sampling}.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=CFG.studies.succinic_nmr.runtime_min,
        gpu=model_resources,
    shell:
        "python -m petmad succinic-md --model {wildcards.model} {params.model_file} "
        "--reference '{params.reference}' --settings '{params.settings}' "
        "--sampling {wildcards.sampling} --relaxed {input.relaxed} --seed {params.seed} "
        "--device {params.device} --threads {threads} "
        "--output-dir runs/succinic/{wildcards.model}/{wildcards.sampling} > {log} 2>&1"


rule succinic_nmr:
    message:
        "1H shielding distributions, classical vs path-integral, per model"
    input:
        runs=expand("runs/succinic/{model}/{sampling}/status.json", model=study_models("succinic"),
                    sampling=["md", "pimd"]),
        model="models/succinic/shielding.npz",
        test="models/succinic/shielding_test.csv",
        # the reference engine's own classical σ_iso, from its held-out MD frames, unless
        # the reference runs the study itself
        reference_md=held_out_reference_md("succinic"),
    output:
        figure=report("results/succinic_nmr.pdf", caption="../report/succinic_nmr.rst",
                      category="Case studies"),
        table=report("results/succinic_nmr.csv", caption="../report/succinic_nmr_csv.rst",
                     category="Case studies"),
        parity=report("results/succinic_shielding_parity.pdf",
                      caption="../report/succinic_shielding_parity.rst", category="Case studies"),
    params:
        settings=as_json(CFG.studies.succinic_nmr),
    log:
        "logs/succinic_nmr.log",
    benchmark:
        "logs/succinic_nmr.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "python -m analysis.succinic_nmr --status {input.runs} --model {input.model} "
        "--test {input.test} --reference-md {input.reference_md} "
        "--settings '{params.settings}' --table {output.table} "
        "--figure {output.figure} --parity {output.parity} > {log} 2>&1"
