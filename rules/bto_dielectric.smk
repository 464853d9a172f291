# Case study 6: phases and dielectric response of BaTiO3 (paper II.I, S11.F, Fig. 9).


rule bto_dipole_labels:
    message:
        "BaTiO3 cell dipoles of the data-stage structures (reference engine or Born charges)"
    input:
        train="data/bto/train.extxyz",
        val="data/bto/val.extxyz",
        test="data/bto/test.extxyz",
    output:
        "data/bto/dipoles.extxyz",
    params:
        born_charges=as_json(CFG.studies.bto_dielectric.born_charges),
    log:
        "logs/bto_dipole_labels.log",
    benchmark:
        "logs/bto_dipole_labels.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m petmad label-dipoles --inputs {input.train} {input.val} {input.test} "
        "--born-charges '{params.born_charges}' --output {output} > {log} 2>&1"


rule bto_dipole_model:
    message:
        "λ-SOAP linear model of BaTiO3 cell dipoles"
    input:
        "data/bto/dipoles.extxyz",
    output:
        model="models/bto/dipole.npz",
        test="models/bto/dipole_test.csv",
    params:
        settings=as_json(CFG.studies.bto_dielectric.dipole_model),
        seed=CFG.seed,
    log:
        "logs/bto_dipole_model.log",
    benchmark:
        "logs/bto_dipole_model.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "python -m petmad train-dipoles --input {input} --settings '{params.settings}' "
        "--seed {params.seed} --threads {threads} --output {output.model} "
        "--test-predictions {output.test} > {log} 2>&1"


rule bto_md:
    message:
        "BaTiO3 flexible-cell NPT at {wildcards.temperature} K with {wildcards.model}"
    input:
        model=lambda w: model_file(w.model, "bto"),
        wall=lambda w: contact_wall_file(w.model, "bto"),
    output:
        "runs/bto/{model}/{temperature}K/status.json",
    wildcard_constraints:
        temperature=r"[0-9.]+",
    params:
        settings=as_json(CFG.studies.bto_dielectric),
        reference=as_json(CFG.reference),
        model_file=model_arguments,
        seed=lambda w: CFG.seed + 6089 * int(float(w.temperature)),
        device=CFG.device,
    log:
        "logs/bto_md/{model}-{temperature}K.log",
    benchmark:
        "logs/bto_md/{model}-{temperature}K.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=3000,
        runtime=CFG.studies.bto_dielectric.runtime_min,
        gpu=model_resources,
    shell:
        "python -m petmad bto-md --model {wildcards.model} {params.model_file} "
        "--reference '{params.reference}' --temperature {wildcards.temperature} "
        "--settings '{params.settings}' --seed {params.seed} --device {params.device} "
        "--threads {threads} --output-dir runs/bto/{wildcards.model}/{wildcards.temperature}K "
        "> {log} 2>&1"


rule bto_dielectric:
    message:
        "BaTiO3 phase populations, transition temperatures and dielectric tensor per model"
    input:
        runs=[f"runs/bto/{m}/{t}K/status.json" for m, t in bto_points()],
        model="models/bto/dipole.npz",
        test="models/bto/dipole_test.csv",
    output:
        figure=report("results/bto_dielectric.pdf", caption="../report/bto_dielectric.rst",
                      category="Case studies"),
        table=report("results/bto_dielectric.csv", caption="../report/bto_dielectric_csv.rst",
                     category="Case studies"),
    params:
        settings=as_json(CFG.studies.bto_dielectric),
        seed=CFG.seed,
    log:
        "logs/bto_dielectric.log",
    benchmark:
        "logs/bto_dielectric.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "RAYON_NUM_THREADS={threads} OMP_NUM_THREADS={threads} "
        "python -m analysis.bto_dielectric --status {input.runs} --dipole-model {input.model} "
        "--dipole-test {input.test} --settings '{params.settings}' --seed {params.seed} "
        "--table {output.table} --figure {output.figure} > {log} 2>&1"
