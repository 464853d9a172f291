# Supplementary benchmarks of the universal models (paper S5, S6, S8, S12, Fig. 3).


rule dimer_curves:
    message:
        "Homonuclear dimer curves with {wildcards.model}"
    input:
        model=lambda w: model_file(w.model, None),
    output:
        "runs/dimers/{model}.csv",
    wildcard_constraints:
        model="|".join(re.escape(m) for m in DIMER_MODELS),
    params:
        settings=as_json(CFG.studies.dimers),
        reference=as_json(CFG.reference),
        model_file=model_arguments,
        device=CFG.device,
    log:
        "logs/dimer_curves/{model}.log",
    benchmark:
        "logs/dimer_curves/{model}.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=3000,
        runtime=60,
        gpu=model_resources,
    shell:
        "python -m petmad dimers --model {wildcards.model} {params.model_file} "
        "--reference '{params.reference}' --settings '{params.settings}' "
        "--device {params.device} --threads {threads} --work-dir runs/dimers/work/{wildcards.model} "
        "--output {output} > {log} 2>&1"


rule dimers:
    message:
        "Dimer curves: universal models against the reference engine"
    input:
        expand("runs/dimers/{model}.csv", model=DIMER_MODELS),
    output:
        figure=report("results/dimers.pdf", caption="../report/dimers.rst",
                      category="Supplementary benchmarks"),
        table=report("results/dimers.csv", caption="../report/dimers_csv.rst",
                     category="Supplementary benchmarks"),
    log:
        "logs/dimers.log",
    benchmark:
        "logs/dimers.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m analysis.dimers --curves {input} --table {output.table} "
        "--figure {output.figure} > {log} 2>&1"


rule relaxation_runs:
    message:
        "Relaxing perturbed crystals with {wildcards.model}"
    input:
        model=lambda w: model_file(w.model, None),
    output:
        "runs/relaxations/{model}.csv",
    wildcard_constraints:
        model="|".join(re.escape(m) for m in UNIVERSAL_MODELS),
    params:
        settings=as_json(CFG.studies.relaxations),
        model_file=model_arguments,
        seed=CFG.seed + 104729,
        device=CFG.device,
    log:
        "logs/relaxation_runs/{model}.log",
    benchmark:
        "logs/relaxation_runs/{model}.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=3000,
        runtime=120,
        gpu=model_resources,
    shell:
        "python -m petmad relaxations --model {wildcards.model} {params.model_file} "
        "--settings '{params.settings}' --seed {params.seed} --device {params.device} "
        "--threads {threads} --work-dir runs/relaxations/work/{wildcards.model} "
        "--output {output} > {log} 2>&1"


rule relaxations:
    message:
        "Relaxation times and failures per universal model"
    input:
        expand("runs/relaxations/{model}.csv", model=UNIVERSAL_MODELS),
    output:
        figure=report("results/relaxations.pdf", caption="../report/relaxations.rst",
                      category="Supplementary benchmarks"),
        table=report("results/relaxations.csv", caption="../report/relaxations_csv.rst",
                     category="Supplementary benchmarks"),
    log:
        "logs/relaxations.log",
    benchmark:
        "logs/relaxations.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m analysis.relaxations --runs {input} --table {output.table} "
        "--figure {output.figure} > {log} 2>&1"


rule phonon_bands:
    message:
        "Phonon bands with {wildcards.model}"
    input:
        model=lambda w: model_file(w.model, None),
    output:
        "runs/phonons/{model}.json",
    wildcard_constraints:
        model="|".join(re.escape(m) for m in PHONON_MODELS),
    params:
        settings=as_json(CFG.studies.phonons),
        reference=as_json(CFG.reference),
        model_file=model_arguments,
        device=CFG.device,
    log:
        "logs/phonon_bands/{model}.log",
    benchmark:
        "logs/phonon_bands/{model}.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=3000,
        runtime=CFG.studies.phonons.runtime_min,
        gpu=model_resources,
    shell:
        "python -m petmad phonons --model {wildcards.model} {params.model_file} "
        "--reference '{params.reference}' --settings '{params.settings}' "
        "--device {params.device} --threads {threads} --quiet "
        "--work-dir runs/phonons/work/{wildcards.model} --output {output} > {log} 2>&1"


rule phonons:
    message:
        "Phonon bands: pet-mad's LLPR ensemble against the reference engine"
    input:
        expand("runs/phonons/{model}.json", model=PHONON_MODELS),
    output:
        figure=report("results/phonons.pdf", caption="../report/phonons.rst",
                      category="Supplementary benchmarks"),
        table=report("results/phonons.csv", caption="../report/phonons_csv.rst",
                     category="Supplementary benchmarks"),
    log:
        "logs/phonons.log",
    benchmark:
        "logs/phonons.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m analysis.phonons --bands {input} --table {output.table} "
        "--figure {output.figure} > {log} 2>&1"


rule speed_benchmark:
    message:
        "Inference cost per MD step against size, every universal model side by side"
    input:
        speed_model_files,
    output:
        timings="runs/speed/timings.csv",
        ensemble="runs/speed/ensemble.json",
    params:
        settings=as_json(CFG.studies.speed),
        models=speed_model_arguments,
        device=CFG.device,
    log:
        "logs/speed_benchmark.log",
    benchmark:
        "logs/speed_benchmark.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=model_resources,
    shell:
        "python -m petmad speed {params.models} --settings '{params.settings}' "
        "--device {params.device} --threads {threads} --quiet --table {output.timings} "
        "--ensemble {output.ensemble} > {log} 2>&1"


rule speed:
    message:
        "Speed figure: time per MD step against atoms"
    input:
        timings="runs/speed/timings.csv",
        ensemble="runs/speed/ensemble.json",
    output:
        figure=report("results/speed.pdf", caption="../report/speed.rst",
                      category="Supplementary benchmarks"),
        table=report("results/speed.csv", caption="../report/speed_csv.rst",
                     category="Supplementary benchmarks"),
    log:
        "logs/speed.log",
    benchmark:
        "logs/speed.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m analysis.speed --timings {input.timings} --ensemble {input.ensemble} "
        "--table {output.table} --figure {output.figure} > {log} 2>&1"
