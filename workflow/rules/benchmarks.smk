# Benchmarks (issue 8; docs/design.md §4, §5): `pytest --benchmark-only` times per-image inference of every
# Table 1 model (tests/test_bench_latency.py), a D2S training step against a vision-only step and
# batched against per-prompt captioning; `d2s bench-table` turns the JSON into Table 1's Params /
# Latency columns, the data of Fig. 3, and the ratios the efficiency claims are judged by.
# The suite uses CUDA when torch sees a GPU (every call synchronised), the CPU otherwise; device,
# threads and torch version are recorded with the results. Needs D2S (Snakefile); writes under
# `{config["results"]}/benchmarks/`, where tables.smk reads latency.csv for Table 1.

BENCH = f"{config.get('results', 'results')}/benchmarks"
BENCH_TESTS = [
    "tests/test_bench_latency.py",
    "tests/test_bench_training.py",
    "tests/test_captions_benchmark.py",
]


rule benchmark_suite:
    input:
        tests=BENCH_TESTS,
    output:
        json=f"{BENCH}/pytest-benchmark.json",
    log:
        "logs/benchmarks/pytest-benchmark.log",
    benchmark:
        "benchmarks/benchmarks/pytest-benchmark.tsv"
    threads: 2
    resources:
        gpu=1,  # used when present (CUDA timings); the suite falls back to the CPU
        mem_mb=16000,
        runtime=60,
    params:
        python=sys.executable,
    shell:
        "HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 D2S_BENCH_THREADS={threads}"
        " {params.python:q} -m pytest --benchmark-only --benchmark-json={output.json:q}"
        " -p no:cacheprovider {input.tests:q} > {log:q} 2>&1"


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
    params:
        d2s=D2S,
    shell:
        "{params.d2s} bench-table {input.json:q} --out {output.csv:q}"
        " --ratios {output.ratios:q} > {log:q} 2>&1"
