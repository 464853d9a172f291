# The configuration of the run, for the report and for reading next to each result's
# provenance (petmad/provenance.py).


rule configuration:
    message:
        "Writing the validated configuration"
    output:
        yaml="results/configuration.yaml",
        html=report("results/configuration.html", caption="../report/configuration.rst",
                    category="Configuration"),
    params:
        # reruns exactly when the merged configuration changes
        config=as_json(CFG),
    log:
        "logs/configuration.log",
    benchmark:
        "logs/configuration.benchmark.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    run:
        from petmad.provenance import write_configuration

        write_configuration(output.yaml, output.html, CFG)
        Path(log[0]).write_text(f"config_hash {PROVENANCE['config_hash']}\n")


rule campaign_cost:
    message:
        "Planned cost of the campaign: atoms × steps of every job, per model and stage"
    output:
        report("results/campaign_cost.csv", caption="../report/campaign_cost_csv.rst",
               category="Configuration"),
    params:
        # the configuration only: no data or model inputs, so it runs before anything else
        config=as_json(CFG),
    log:
        "logs/campaign_cost.log",
    benchmark:
        "logs/campaign_cost.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        # the table and the totals go to the log and to Snakemake's console
        "python -m petmad campaign-cost --config {params.config:q} --table {output} 2>&1 "
        "| tee {log}"
