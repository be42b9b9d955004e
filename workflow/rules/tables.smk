# The paper's tables (docs/design.md §5): reproduced mean ± std over seeds beside the paper's
# values (results/paper/), labelled with the config, run label, eal_mode and select protocol.
# Helpers: common.smk.


rule table:
    input:
        unpack(table_inputs),
    output:
        csv=report(RESULTS + "/{table}.csv", category="Tables", labels={"table": "{table}"}),
        md=RESULTS + "/{table}.md",
    log:
        "logs/tables/{table}.log",
    benchmark:
        "benchmarks/tables/{table}.tsv"
    threads: threads_of("default")
    resources:
        **request("default"),
    params:
        paper=paper_table,
    script:
        "../scripts/table.py"


rule all_tables:
    input:
        all_tables(),
    output:
        touch(RESULTS + "/all"),
