# Data stage: build structures, label them with the reference engine, filter and split.


rule build_structures:
    message:
        "Generating the {wildcards.dataset} structures"
    output:
        "data/{dataset}/structures.extxyz",
    params:
        settings=lambda w: structure_settings(w.dataset),
        seed=CFG.seed,
    log:
        "logs/build_structures/{dataset}.log",
    benchmark:
        "logs/build_structures/{dataset}.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    shell:
        "python -m petmad build-structures --dataset {wildcards.dataset} "
        "--settings {params.settings:q} --seed {params.seed} --output {output} > {log} 2>&1"


rule label:
    message:
        "Labeling {wildcards.dataset} with {params.engine}"
    input:
        # the structures, the user's labels (engine 'file') or the labeled shards to gather
        labeling_input,
    output:
        labeled="data/{dataset}/labeled.extxyz",
        summary="data/{dataset}/labeled.extxyz.json",
    params:
        engine=CFG.reference.engine,
        reference=as_json(CFG.reference),
        labeling=as_json(CFG.labeling),
        gather="--gather" if SHARDED_LABELING else "",
    log:
        "logs/label/{dataset}.log",
    benchmark:
        "logs/label/{dataset}.benchmark.tsv"
    conda:
        CONDA_ENV
    # Gathering shards and reading label files run in one process.
    threads: 1 if CFG.labeling.shard_size or not CFG.reference.computes else CFG.labeling.max_threads
    resources:
        mem_mb=lambda wildcards, threads: 1500 + 1500 * threads,
        runtime=CFG.labeling.runtime_min,
    shell:
        "python -m petmad label {params.gather} --input {input} --output {output.labeled} "
        "--reference {params.reference:q} --labeling {params.labeling:q} "
        "--threads {threads} > {log} 2>&1"


rule label_shard:
    message:
        "Labeling {wildcards.dataset} structures {params.structures} with {params.engine}"
    input:
        "data/{dataset}/structures.extxyz",
    output:
        labeled="data/{dataset}/shards/{shard}.extxyz",
        summary="data/{dataset}/shards/{shard}.extxyz.json",
    params:
        engine=CFG.reference.engine,
        structures=lambda wildcards: labeling_shards(wildcards)[int(wildcards.shard)],
        reference=as_json(CFG.reference),
        labeling=as_json(CFG.labeling),
    log:
        "logs/label/{dataset}/{shard}.log",
    benchmark:
        "logs/label/{dataset}/{shard}.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: CFG.labeling.max_threads
    resources:
        mem_mb=lambda wildcards, threads: 1500 + 1500 * threads,
        runtime=CFG.labeling.runtime_min,
    shell:
        "python -m petmad label --input {input} --shard {params.structures} "
        "--output {output.labeled} --reference {params.reference:q} "
        "--labeling {params.labeling:q} --threads {threads} > {log} 2>&1"


rule sample_md_trajectory:
    message:
        "Reference-engine MD of {wildcards.system} ({wildcards.part} frames), trajectory "
        "{wildcards.index}"
    output:
        frames="data/{system}/md_{part}/{index}.extxyz",
        summary="data/{system}/md_{part}/{index}.extxyz.json",
    wildcard_constraints:
        part="train|test",
        index=r"[0-9]+",
    params:
        settings=md_settings,
        reference=as_json(CFG.reference),
        seed=CFG.seed,
    log:
        "logs/sample_md/{system}_{part}/{index}.log",
    benchmark:
        "logs/sample_md/{system}_{part}/{index}.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: CFG.labeling.max_threads
    resources:
        mem_mb=lambda wildcards, threads: 1500 + 500 * threads,
        runtime=CFG.labeling.runtime_min,
    shell:
        "python -m petmad sample-md --system {wildcards.system} --part {wildcards.part} "
        "--trajectory {wildcards.index} --settings {params.settings:q} "
        "--reference {params.reference:q} --seed {params.seed} --threads {threads} "
        "--output {output.frames} > {log} 2>&1"


rule sample_md:
    message:
        "Reference-engine MD of {wildcards.system} ({wildcards.part} frames)"
    input:
        # labeling.shard_size (a cluster): one job per trajectory, gathered here
        md_trajectory_files,
    output:
        frames="data/{system}/md_{part}.extxyz",
        summary="data/{system}/md_{part}.extxyz.json",
    wildcard_constraints:
        part="train|test",
    params:
        command=md_sampling_command,
        # Snakemake does not compare params computed from the input (the command above)
        # between runs: changed MD settings must rerun this job all the same.
        settings=md_settings,
    log:
        "logs/sample_md/{system}_{part}.log",
    benchmark:
        "logs/sample_md/{system}_{part}.benchmark.tsv"
    conda:
        CONDA_ENV
    # Gathering one-trajectory files (labeling.shard_size) runs in one process.
    threads: 1 if CFG.labeling.shard_size else CFG.labeling.max_threads
    resources:
        mem_mb=lambda wildcards, threads: 1500 + 500 * threads,
        runtime=CFG.labeling.runtime_min,
    shell:
        "python -m petmad {params.command} --threads {threads} --output {output.frames} "
        "> {log} 2>&1"


rule split:
    message:
        "Filtering and splitting {wildcards.dataset}"
    input:
        "data/{dataset}/labeled.extxyz",
        # reference-MD frames (data.<system>.md), split with the rest as subset 'md'
        md_training_frames,
        # the active-learning round's frames (data.<system>.model_md), subset 'model_md'
        model_md_frames,
    output:
        train="data/{dataset}/train.extxyz",
        val="data/{dataset}/val.extxyz",
        test="data/{dataset}/test.extxyz",
        report="data/{dataset}/split.json",
    params:
        fractions=" ".join(str(f) for f in CFG.data.split),
        force_filter=json.dumps(CFG.data.force_filter_eV_A, sort_keys=True),
        energy_filter=(
            f"--energy-filter {CFG.data.energy_filter_eV_per_atom}"
            if CFG.data.energy_filter_eV_per_atom
            else ""
        ),
        # MAD's counts are the sizes wanted after the filters (generated with room to spare;
        # data.mad.oversampling); labels read from files are all kept.
        max_per_subset=lambda w: (
            f"--max-per-subset '{json.dumps(CFG.data.mad.counts, sort_keys=True)}'"
            if w.dataset == "mad" and CFG.reference.computes
            else ""
        ),
        seed=CFG.seed,
    log:
        "logs/split/{dataset}.log",
    benchmark:
        "logs/split/{dataset}.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m petmad split --input {input} "
        "--outputs {output.train} {output.val} {output.test} --report {output.report} "
        "--fractions {params.fractions} --force-filter {params.force_filter:q} "
        "{params.energy_filter} {params.max_per_subset} "
        "--seed {params.seed} > {log} 2>&1"


# Active learning (data.<system>.model_md): round k's split holds the rattles, the
# reference MD and the frames of the rounds before; it trains round k's bespoke PET, whose
# MD the reference labels.  Subsets are split independently, so the rattles and the
# reference MD fall in the same parts in every round and in the final split.
use rule split as split_round with:
    message:
        "Splitting {wildcards.dataset} for active-learning round {wildcards.round}"
    input:
        "data/{dataset}/labeled.extxyz",
        md_training_frames,
        model_md_frames,
    output:
        train="data/{dataset}/round{round}/train.extxyz",
        val="data/{dataset}/round{round}/val.extxyz",
        test="data/{dataset}/round{round}/test.extxyz",
        report="data/{dataset}/round{round}/split.json",
    log:
        "logs/split/{dataset}_round{round}.log",
    benchmark:
        "logs/split/{dataset}_round{round}.benchmark.tsv"


rule sample_model_md:
    message:
        "Active-learning round {wildcards.round} of {wildcards.system}: bespoke MD, labeled "
        "by the reference engine"
    input:
        model="models/{system}/round{round}/bespoke.pt",
        # the wall the case studies would give this model (studies.contact_wall), so the
        # round samples where a study with it would go
        wall=lambda wildcards: (
            [f"data/{wildcards.system}/round{wildcards.round}/contact_wall.json"]
            if CFG.studies.contact_wall.enabled else []),
    output:
        frames="data/{system}/md_model/round{round}.extxyz",
        summary="data/{system}/md_model/round{round}.extxyz.json",
    params:
        settings=lambda wildcards: md_settings(wildcards, part="model"),
        reference=as_json(CFG.reference),
        # each round its own starts and noise
        seed=lambda wildcards: CFG.seed + int(wildcards.round) - 1,
        wall=lambda wildcards, input: (
            f"--contact-wall {input.wall[0]}" if input.wall else ""),
    log:
        "logs/sample_md/{system}_round{round}.log",
    benchmark:
        "logs/sample_md/{system}_round{round}.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: CFG.labeling.max_threads
    resources:
        mem_mb=lambda wildcards, threads: 1500 + 500 * threads,
        runtime=CFG.labeling.runtime_min,
    shell:
        "python -m petmad sample-md --system {wildcards.system} --part model "
        "--model {input.model} {params.wall} --settings {params.settings:q} "
        "--reference {params.reference:q} --seed {params.seed} --threads {threads} "
        "--output {output.frames} > {log} 2>&1"


rule dataset_summary:
    message:
        "Summarising every dataset"
    input:
        parts=expand("data/{dataset}/{part}.extxyz", dataset=DATASETS, part=["train", "val", "test"]),
        reports=expand("data/{dataset}/split.json", dataset=DATASETS),
        labeling=expand("data/{dataset}/labeled.extxyz.json", dataset=DATASETS),
        md_test_sets=[path for name, path in TEST_SETS.items() if name not in DATASETS],
    output:
        csv=report(
            "results/datasets.csv",
            caption="../report/datasets_csv.rst",
            category="Datasets",
        ),
        pdf=report(
            "results/datasets.pdf",
            caption="../report/datasets_pdf.rst",
            category="Datasets",
        ),
    params:
        datasets=list(TEST_SETS),
    log:
        "logs/dataset_summary.log",
    benchmark:
        "logs/dataset_summary.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m analysis.datasets --data-dir data --datasets {params.datasets} "
        "--csv {output.csv} --pdf {output.pdf} > {log} 2>&1"


rule contact_wall:
    message:
        "Contact wall of {wildcards.system}: below the closest contacts of its training data"
    input:
        "data/{system}/train.extxyz",
    output:
        "data/{system}/contact_wall.json",
    params:
        settings=as_json(CFG.studies.contact_wall),
    log:
        "logs/contact_wall/{system}.log",
    benchmark:
        "logs/contact_wall/{system}.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m petmad contact-wall --train {input} --settings '{params.settings}' "
        "--output {output} > {log} 2>&1"


use rule contact_wall as contact_wall_round with:
    message:
        "Contact wall of {wildcards.system}'s active-learning round {wildcards.round}"
    input:
        "data/{system}/round{round}/train.extxyz",
    output:
        "data/{system}/round{round}/contact_wall.json",
    log:
        "logs/contact_wall/{system}_round{round}.log",
    benchmark:
        "logs/contact_wall/{system}_round{round}.benchmark.tsv"
