# The paper's tables (docs/design.md §5): reproduced mean ± std over seeds beside the paper's values
# (results/paper/), labelled with the config, run label, eal_mode and select protocol.


rule table:
    input:
        unpack(table_inputs),
    output:
        csv=report(RESULTS + "/{table}.csv", category="Tables", labels={"table": "{table}"}),
        md=RESULTS + "/{table}.md",
    log:
        "logs/tables/{table}.log",
    wildcard_constraints:
        table="table[1-8]|fig10|fig11",
    params:
        paper=lambda w: f"results/paper/{w.table}.csv",
    script:
        "../scripts/table.py"


rule all_tables:
    input:
        all_tables(),
    output:
        touch(RESULTS + "/all"),
