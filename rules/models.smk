# Models stage: the universal PET ("pet-mad"), a bespoke PET and a LoRA fine-tune of
# pet-mad per system, each with LLPR uncertainty and a last-layer ensemble; then the
# accuracy, retention, learning-curve, calibration and rotation benchmarks.


rule train_pet_mad:
    message:
        "Training the universal model (pet-mad)"
    input:
        splits=expand("data/mad/{part}.extxyz", part=["train", "val", "test"]),
        base=[CFG.training.base_model] if CFG.training.base_model else [],
    output:
        trained="models/pet-mad.trained.ckpt",
        checkpoint="models/pet-mad.ckpt",
        exported="models/pet-mad.pt",
    params:
        training=training_json("pet", "pretrain", "llpr"),
        seed=CFG.seed,
        device=CFG.device,
        base=lambda w, input: f"--import-checkpoint {input.base}" if input.base else "",
    log:
        "logs/train_pet_mad.log",
    benchmark:
        "logs/train_pet_mad.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: CFG.training.threads
    resources:
        mem_mb=8000,
        runtime=CFG.training.runtime_min,
        gpu=pretrain_gpus,
        **PRETRAIN_TASKS,
    shell:
        "python -m petmad train-model --kind pretrain --data-dir data/mad "
        "--training {params.training:q} --workdir models/work/pet-mad --seed {params.seed} "
        "--device {params.device} {params.base} --threads {threads} "
        "--trained {output.trained} --checkpoint {output.checkpoint} "
        "--exported {output.exported} > {log} 2>&1"


rule train_bespoke_model:
    message:
        "Training the bespoke model of {wildcards.system}"
    input:
        splits=expand("data/{{system}}/{part}.extxyz", part=["train", "val", "test"]),
    output:
        trained="models/{system}/bespoke.trained.ckpt",
        checkpoint="models/{system}/bespoke.ckpt",
        exported="models/{system}/bespoke.pt",
        predictions="models/eval/{system}/bespoke/{system}.npz",
    params:
        training=training_json("pet", "bespoke", "llpr"),
        seed=CFG.seed,
        device=CFG.device,
        evaluate=lambda w, input, output: f"--evaluate {input.splits[2]} {output.predictions}",
    log:
        "logs/train_bespoke_model/{system}.log",
    benchmark:
        "logs/train_bespoke_model/{system}.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: CFG.training.threads
    resources:
        mem_mb=8000,
        runtime=CFG.training.runtime_min,
        gpu=model_resources,
    shell:
        "python -m petmad train-model --kind bespoke --data-dir data/{wildcards.system} "
        "--training {params.training:q} --workdir models/work/{wildcards.system}/bespoke "
        "--seed {params.seed} --device {params.device} {params.evaluate} --threads {threads} "
        "--trained {output.trained} --checkpoint {output.checkpoint} "
        "--exported {output.exported} > {log} 2>&1"


rule train_round_model:
    message:
        "Training {wildcards.system}'s bespoke model of active-learning round {wildcards.round}"
    input:
        splits=expand("data/{{system}}/round{{round}}/{part}.extxyz",
                      part=["train", "val", "test"]),
    output:
        trained="models/{system}/round{round}/bespoke.trained.ckpt",
        checkpoint="models/{system}/round{round}/bespoke.ckpt",
        exported="models/{system}/round{round}/bespoke.pt",
    params:
        training=training_json("pet", "bespoke"),
        seed=CFG.seed,
        device=CFG.device,
    log:
        "logs/train_round_model/{system}_round{round}.log",
    benchmark:
        "logs/train_round_model/{system}_round{round}.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: CFG.training.threads
    resources:
        mem_mb=8000,
        runtime=CFG.training.runtime_min,
        gpu=model_resources,
    shell:
        # No LLPR: only its MD is used, which the uncertainty does not steer.
        "python -m petmad train-model --kind bespoke "
        "--data-dir data/{wildcards.system}/round{wildcards.round} --training {params.training:q} "
        "--workdir models/work/{wildcards.system}/round{wildcards.round} "
        "--seed {params.seed} --device {params.device} --no-llpr --threads {threads} "
        "--trained {output.trained} --checkpoint {output.checkpoint} "
        "--exported {output.exported} > {log} 2>&1"


rule train_lora_model:
    message:
        "Fine-tuning pet-mad ({params.method}) on {wildcards.system}"
    input:
        splits=expand("data/{{system}}/{part}.extxyz", part=["train", "val", "test"]),
        base="models/pet-mad.trained.ckpt",
        # Retention on the universal set (Table II) is measured right after training.
        mad_test="data/mad/test.extxyz",
    output:
        trained="models/{system}/lora.trained.ckpt",
        checkpoint="models/{system}/lora.ckpt",
        exported="models/{system}/lora.pt",
        predictions="models/eval/{system}/lora/{system}.npz",
        retention="models/eval/{system}/lora/mad.npz",
    params:
        training=training_json("finetune", "llpr"),
        # 'lora' names the fine-tuned model; training.finetune.method may make it a full one
        method=CFG.training.finetune.method,
        seed=CFG.seed,
        device=CFG.device,
        evaluate=lambda w, input, output: (
            f"--evaluate {input.splits[2]} {output.predictions} "
            f"--evaluate {input.mad_test} {output.retention}"
        ),
    log:
        "logs/train_lora_model/{system}.log",
    benchmark:
        "logs/train_lora_model/{system}.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: CFG.training.threads
    resources:
        mem_mb=8000,
        runtime=CFG.training.runtime_min,
        gpu=model_resources,
    shell:
        "python -m petmad train-model --kind {params.method} --data-dir data/{wildcards.system} "
        "--training {params.training:q} --workdir models/work/{wildcards.system}/lora "
        "--seed {params.seed} --device {params.device} --base {input.base} "
        "{params.evaluate} --threads {threads} "
        "--trained {output.trained} --checkpoint {output.checkpoint} "
        "--exported {output.exported} > {log} 2>&1"


rule train_learning_curve_model:
    message:
        "Learning curve: {wildcards.method} on {wildcards.fraction} of {wildcards.system}"
    input:
        splits=expand("data/{{system}}/{part}.extxyz", part=["train", "val", "test"]),
        base=lambda w: "models/pet-mad.trained.ckpt" if w.method != "bespoke" else [],
    output:
        trained="models/lc/{system}/{method}-{fraction}.trained.ckpt",
        checkpoint="models/lc/{system}/{method}-{fraction}.ckpt",
        exported="models/lc/{system}/{method}-{fraction}.pt",
        predictions="models/eval/lc/{system}/{method}-{fraction}/{system}.npz",
    params:
        training=learning_curve_training,
        kind=learning_curve_kind,
        seed=CFG.seed,
        device=CFG.device,
        base=lambda w, input: f"--base {input.base}" if input.base else "",
        evaluate=lambda w, input, output: f"--evaluate {input.splits[2]} {output.predictions}",
    log:
        "logs/train_learning_curve_model/{system}_{method}-{fraction}.log",
    benchmark:
        "logs/train_learning_curve_model/{system}_{method}-{fraction}.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: CFG.training.threads
    resources:
        mem_mb=8000,
        runtime=CFG.training.runtime_min,
        gpu=model_resources,
    shell:
        "python -m petmad train-model --kind {params.kind} --no-llpr "
        "--fraction {wildcards.fraction} --data-dir data/{wildcards.system} "
        "--training {params.training:q} "
        "--workdir models/work/lc/{wildcards.system}/{wildcards.method}-{wildcards.fraction} "
        "--seed {params.seed} --device {params.device} {params.base} {params.evaluate} "
        "--threads {threads} --trained {output.trained} --checkpoint {output.checkpoint} "
        "--exported {output.exported} > {log} 2>&1"


rule train_mad_learning_curve_model:
    message:
        "Learning curve of pet-mad: a PET from scratch on {wildcards.fraction} of MAD"
    input:
        splits=expand("data/mad/{part}.extxyz", part=["train", "val", "test"]),
    output:
        trained="models/lc/mad/pretrain-{fraction}.trained.ckpt",
        checkpoint="models/lc/mad/pretrain-{fraction}.ckpt",
        exported="models/lc/mad/pretrain-{fraction}.pt",
        predictions="models/eval/lc/mad/pretrain-{fraction}/mad.npz",
    params:
        training=training_json("pet", "pretrain"),
        seed=CFG.seed,
        device=CFG.device,
        evaluate=lambda w, input, output: f"--evaluate {input.splits[2]} {output.predictions}",
    log:
        "logs/train_mad_learning_curve_model/pretrain-{fraction}.log",
    benchmark:
        "logs/train_mad_learning_curve_model/pretrain-{fraction}.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: CFG.training.threads
    resources:
        mem_mb=8000,
        runtime=CFG.training.runtime_min,
        gpu=pretrain_gpus,
        **PRETRAIN_TASKS,
    shell:
        "python -m petmad train-model --kind pretrain --no-llpr "
        "--fraction {wildcards.fraction} --data-dir data/mad --training {params.training:q} "
        "--workdir models/work/lc/mad/pretrain-{wildcards.fraction} --seed {params.seed} "
        "--device {params.device} {params.evaluate} --threads {threads} "
        "--trained {output.trained} --checkpoint {output.checkpoint} "
        "--exported {output.exported} > {log} 2>&1"


rule evaluate_pet_mad:
    message:
        "Predicting every test set with pet-mad"
    input:
        model="models/pet-mad.pt",
        data=list(TEST_SETS.values()),
    output:
        expand("models/eval/pet-mad/{name}.npz", name=TEST_SETS),
    params:
        device=CFG.device,
    log:
        "logs/evaluate_pet_mad.log",
    benchmark:
        "logs/evaluate_pet_mad.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    shell:
        "python -m petmad evaluate --model {input.model} --data {input.data} "
        "--outputs {output} --device {params.device} --threads {threads} > {log} 2>&1"


rule evaluate_external_model:
    message:
        "Predicting every test set with {wildcards.external}"
    input:
        data=list(TEST_SETS.values()),
        model=lambda w: model_file(w.external, None),
    output:
        expand("models/eval/external/{{external}}/{name}.npz", name=TEST_SETS),
    params:
        model=library_source,
    log:
        "logs/evaluate_external_model/{external}.log",
    benchmark:
        "logs/evaluate_external_model/{external}.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    shell:
        "python -m petmad evaluate --model {params.model:q} --data {input.data} "
        "--outputs {output} --threads {threads} > {log} 2>&1"


rule evaluate_md_test_set:
    message:
        "Predicting the reference-MD test frames of {wildcards.system} with {wildcards.kind}"
    input:
        model="models/{system}/{kind}.pt",
        data="data/{system}/md_test.extxyz",
    output:
        "models/eval/{system}/{kind}/{system}-md.npz",
    wildcard_constraints:
        kind="|".join(SYSTEM_MODEL_KINDS),
    params:
        device=CFG.device,
    log:
        "logs/evaluate_md_test_set/{system}_{kind}.log",
    benchmark:
        "logs/evaluate_md_test_set/{system}_{kind}.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "python -m petmad evaluate --model {input.model} --data {input.data} "
        "--outputs {output} --device {params.device} --threads {threads} > {log} 2>&1"


rule rotational_energies:
    message:
        "Rotating MAD test structures over a Lebedev grid with pet-mad"
    input:
        model="models/pet-mad.pt",
        data="data/mad/test.extxyz",
    output:
        "models/eval/rotations/pet-mad.npz",
    params:
        order=CFG.training.lebedev_order,
        per_axis=CFG.training.rotations_per_axis,
        n_structures=CFG.training.max_rotation_structures,
        device=CFG.device,
    log:
        "logs/rotational_energies.log",
    benchmark:
        "logs/rotational_energies.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    shell:
        "python -m petmad rotations --model {input.model} --data {input.data} "
        "--output {output} --lebedev-order {params.order} "
        "--rotations-per-axis {params.per_axis} --max-structures {params.n_structures} "
        "--device {params.device} --threads {threads} > {log} 2>&1"


rule accuracy_benchmarks:
    message:
        "Accuracy, retention and uncertainty-calibration benchmarks"
    input:
        accuracy_predictions(),
    output:
        accuracy=report("results/accuracy.csv", caption="../report/accuracy_csv.rst",
                        category="Models"),
        figure=report("results/accuracy.pdf", caption="../report/accuracy_pdf.rst",
                      category="Models"),
        retention=report("results/lora_retention.csv", caption="../report/lora_retention.rst",
                         category="Models"),
        calibration=report("results/uq_calibration.pdf", caption="../report/uq_calibration.rst",
                           category="Models"),
    log:
        "logs/accuracy_benchmarks.log",
    benchmark:
        "logs/accuracy_benchmarks.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "python -m analysis.accuracy --eval-dir models/eval --predictions {input} "
        "--accuracy {output.accuracy} "
        "--figure {output.figure} --retention {output.retention} "
        "--calibration {output.calibration} > {log} 2>&1"


rule learning_curves:
    message:
        "Learning curves"
    input:
        lambda w: [f"models/eval/lc/{s}/{m}-{f}/{s}.npz" for s, m, f in learning_curve_points()]
        + [f"models/eval/{s}/{k}/{s}.npz" for s in CFG.training.learning_curves.systems
           if s in CFG.systems for k in SYSTEM_MODEL_KINDS]
        + [f"models/eval/pet-mad/{s}.npz" for s in CFG.training.learning_curves.systems
           if s in CFG.systems]
        + [f"models/eval/lc/mad/pretrain-{f}/mad.npz" for f in MAD_LEARNING_CURVE_FRACTIONS]
        + (["models/eval/pet-mad/mad.npz"] if MAD_LEARNING_CURVE_FRACTIONS else []),
    output:
        figure=report("results/learning_curves.pdf", caption="../report/learning_curves.rst",
                      category="Models"),
        table=report("results/learning_curves.csv", caption="../report/learning_curves_csv.rst",
                     category="Models"),
    params:
        systems=(["mad"] if MAD_LEARNING_CURVE_FRACTIONS else [])
        + [s for s in CFG.training.learning_curves.systems if s in CFG.systems],
    log:
        "logs/learning_curves.log",
    benchmark:
        "logs/learning_curves.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m analysis.learning_curves --eval-dir models/eval --systems {params.systems} "
        "--figure {output.figure} --table {output.table} > {log} 2>&1"


rule rotational_discrepancy:
    message:
        "Rotational discrepancy of pet-mad"
    input:
        "models/eval/rotations/pet-mad.npz",
    output:
        report("results/rotational_discrepancy.csv",
               caption="../report/rotational_discrepancy.rst", category="Models"),
    log:
        "logs/rotational_discrepancy.log",
    benchmark:
        "logs/rotational_discrepancy.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m analysis.rotations --energies {input} --output {output} > {log} 2>&1"
