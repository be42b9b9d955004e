# The paper's tables (docs/design.md §5): reproduced mean ± std over seeds beside the paper's
# values (results/paper/), labelled with the config, run label, eal_mode and select protocol.
# Input functions: common.smk.


rule table:
    input:
        unpack(table_inputs),
    output:
        csv=report(f"{RESULTS}/{{table}}.csv", category="Tables", labels={"table": "{table}"}),
        md=f"{RESULTS}/{{table}}.md",
    log:
        "logs/tables/{table}.log",
    benchmark:
        "benchmarks/tables/{table}.tsv"
    conda:
        "../envs/d2s.yaml"
    threads: COMPUTE.threads("default")
    resources:
        **COMPUTE.request("default"),
    params:
        paper=paper_table,
    script:
        "../scripts/table.py"


rule all_tables:
    input:
        T.all_tables(config),
    output:
        touch(f"{RESULTS}/all"),
