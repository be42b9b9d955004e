# Benchmarks (issue 8; docs/design.md §4, §5): `d2s bench run` times per-image inference of every
# Table 1 model, a D2S training step against a vision-only step and batched against per-prompt
# captioning (the pytest-benchmark suite named in d2s/ops/bench.py); `d2s bench table` turns the JSON
# into Table 1's Params / Latency columns, the data of Fig. 3, and the ratios the efficiency
# claims are judged by. CUDA when torch sees a GPU (every call synchronised), the CPU otherwise;
# device, threads and torch version are recorded with the results. Tables 1 reads latency.csv.
# Input functions: common.smk.


rule benchmark_suite:
    output:
        json=f"{BENCH}/pytest-benchmark.json",
    log:
        "logs/benchmarks/pytest-benchmark.log",
    benchmark:
        "benchmarks/benchmarks/pytest-benchmark.tsv"
    conda:
        "../envs/d2s.yaml"
    # measured alone: every core (and every GPU slot) of a local run, a whole node under SLURM
    threads: COMPUTE.exclusive_threads("benchmark_suite")
    resources:
        **COMPUTE.exclusive_request("benchmark_suite"),
    params:
        d2s=D2S,
        slot=COMPUTE.gpu_slot("benchmark_suite"),
        threads=COMPUTE.threads("benchmark_suite"),
    shell:
        "{params.slot} {params.d2s} bench run --json {output.json:q} --threads {params.threads}"
        " --alone > {log:q} 2>&1"


rule latency_table:
    input:
        json=f"{BENCH}/pytest-benchmark.json",
    output:
        csv=f"{BENCH}/latency.csv",
        ratios=f"{BENCH}/latency_ratios.json",
    log:
        "logs/benchmarks/latency_table.log",
    benchmark:
        "benchmarks/benchmarks/latency_table.tsv"
    conda:
        "../envs/d2s.yaml"
    threads: COMPUTE.threads("default")
    resources:
        **COMPUTE.request("default"),
    params:
        d2s=D2S,
    shell:
        "{params.d2s} bench table {input.json:q} --out {output.csv:q}"
        " --ratios {output.ratios:q} > {log:q} 2>&1"
