"""The bench report as text: one block per section, in the order `run_bench` measures them.

Each `format_*` takes the section's dict from the JSON report and returns its lines.
"""

from __future__ import annotations


def fmt(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def met(flag: bool | None) -> str:
    return "-" if flag is None else ("MET" if flag else "not met")


def format_header(r: dict) -> list[str]:
    m = r["machine"]
    return [f"paramembed bench  {r['created']}  {m['device']}  torch {m['torch']}  load avg {fmt(m['load_average'], 2)}"
            + ("  (quick)" if r["quick"] else ""),
            f"matmul {m['matmul_size']}^2 fp32: {m['matmul_flops'] / 1e9:,.1f} GFLOP/s"
            + (f", bf16: {m['matmul_flops_bf16'] / 1e12:,.1f} TFLOP/s" if "matmul_flops_bf16" in m else ""), "",
            "models: " + "; ".join(f"{k}: {v}" for k, v in r["models"].items())]


def format_adaptation(a: dict, tasks: int, queries: int) -> list[str]:
    lines = [f"ADAPTATION  one task at a time, {tasks} tasks per shape, {queries} queries per class",
             f"{'method':<14}{'task':<16}{'median ms':>11}{'p90 ms':>10}{'accuracy':>18}"]
    for row in a["rows"]:
        lines.append(f"{row['method']:<14}{row['task']:<16}{row['median_ms']:>11.2f}{row['p90_ms']:>10.2f}"
                     f"{100 * row['accuracy']:>10.1f} +- {100 * row['ci95']:.1f}")
    for name, ratio in a["ratios"].items():
        reference = name.split("/")[1].split()[0]
        flag = f"  target (>=20x, acc >= MAML's) {met(ratio['target_met'])}" if "target_met" in ratio else ""
        lines.append(f"  {name:<34} {ratio['time_ratio']:>8.1f}x slower than {reference}; {reference} accuracy "
                     f"{100 * ratio['accuracy_difference']:+.1f} points{flag}")
    return lines


def format_batched(b: dict) -> list[str]:
    return [f"BATCHED ADAPTATION  {b['method']}, {b['task']}, {b['tasks_per_pass']} tasks per pass"
            + (" (bf16, channels-last)" if b["mixed_precision"] else ""),
            f"  batched {b['batched_tasks_per_s']:,.0f} tasks/s; one at a time {b['one_at_a_time_tasks_per_s']:,.0f} tasks/s; "
            f"speedup {b['speedup']:.1f}x" + (f"; target {b['target']}: {met(b['target_met'])}" if "target" in b else "")] + (
        [f"  CPU: {b['images_per_pass']} images per backbone pass; tasks/s by images per pass: "
         + ", ".join(f"{size}: {r:,.0f}" for size, r in b["sweep_tasks_per_s"].items())] if "sweep_tasks_per_s" in b else [])


def format_training(t: dict) -> list[str]:
    c = t["config"]
    lines = [f"META-TRAINING  {c['generator']} width {c['width']}, {c['ways'][0]}-way {c['shots'][0]}-shot, "
             f"{c['queries']} queries, {c['tasks_per_batch']} tasks/step ({t['images_per_step']} images)",
             f"  training step: {t['images_per_s']:,.0f} images/s, {t['episodes_per_s']:,.1f} episodes/s",
             f"  FLOP bound: {t['flops_per_image'] / 1e6:,.1f} MFLOP/image (fwd+bwd) at the measured matmul rate -> "
             f"{t['bound_images_per_s']:,.0f} images/s; reached {100 * t['fraction_of_bound']:.0f}% (target 50% on CPU)"]
    lp = t["loop"]
    lines.append(f"  real train() loop, {lp['num_workers']} data worker(s), {lp['steps']} steps: {lp['images_per_s']:,.0f} images/s, "
                 f"{lp['episodes_per_s']:,.1f} episodes/s; waits on data {100 * lp['data_wait_fraction']:.1f}% of the time "
                 f"after the first window ({100 * lp['data_wait_fraction_first_window']:.0f}% in it) -> "
                 + ("WAITS on data" if lp["waits_on_data"] else "does not wait on data"))
    if "peak_gpu_memory_mb_default_config" in t:
        lines.append(f"  peak GPU memory: {t['peak_gpu_memory_mb_default_config']:,.0f} MB at the default config's largest step "
                     f"(20-way 5-shot x 4 tasks), {t['peak_gpu_memory_mb_this_config']:,.0f} MB at this config")
    return lines


def format_pretraining(pipelines: dict) -> list[str]:
    lines = ["PRE-TRAINING  the real-data pipeline (batch built in memory: index, rotate, augment; cosine head; SGD)"]
    for name, t in pipelines.items():
        lines.append(f"  {name:<22} batch {t['batch_size']}, {t['classes']:,} classes, {t['augment']} augmentation: "
                     f"{t['images_per_s']:,.0f} images/s; {t['flops_per_image'] / 1e6:,.1f} MFLOP/image -> bound "
                     f"{t['bound_images_per_s']:,.0f} images/s, reached {100 * t['fraction_of_bound']:.0f}% (target 50%); "
                     f"building the batch {100 * t['data_fraction']:.0f}% of the step")
    return lines


def format_data(d: dict) -> list[str]:
    return ["DATA",
            f"  glyph rendering {d['image_size']}x{d['image_size']}, one core, no cache: {d['render_images_per_s_one_core']:,.0f} images/s "
            f"(target 2,000: {met(d['target_met'])}); from the cache: {d['cached_images_per_s']:,.0f} images/s"]


def latency_table(figures: dict[str, dict]) -> list[str]:
    """One row per app figure: median and worst seconds, how many runs, the target, met or not."""
    lines = [f"  {'figure':<40}{'median':>9}{'worst':>9}{'runs':>6}{'target':>10}  verdict"]
    for f in figures.values():
        seconds = f"{f['median_s']:.2f} s" if f["median_s"] is not None else "-"
        worst = f"{f['worst_s']:.2f} s" if f["worst_s"] is not None else "-"
        verdict = met(f["met"]) if f["met"] is not None else f"not measured ({f.get('reason')})"
        lines.append(f"  {f['label']:<40}{seconds:>9}{worst:>9}{f['runs']:>6}{'<= ' + fmt(f['target_s'], 0) + ' s':>10}  {verdict}")
    return lines


def format_browser(b: dict) -> list[str]:
    """The figures a person feels (real server, Chromium), each a median of fresh runs, beside its target."""
    if not b.get("measured"):
        return [f"  in a real browser: not measured ({b.get('reason')})"]
    lines = [f"  in Chromium, each a median of {b['runs']} fresh servers started as `make run` starts them "
             f"(load avg {fmt(b.get('load_average'), 2)} at the end):",
             f"  {'what a person does':<40}{'median':>9}{'worst':>9}{'target':>10}  verdict"]
    for f in b["figures"]:
        lines.append(f"  {f['label']:<40}{f['median_s']:>7.2f} s{max(f['values']):>7.2f} s{'<= ' + fmt(f['target_s'], 1) + ' s':>10}  {met(f['met'])}")
    lines.append(f"  health endpoint answered after {b['health_s']:.2f} s; server peak resident memory {b['peak_rss_mb']:,.0f} MB")
    if b["problems"]:
        lines.append(f"  failed runs: {' | '.join(b['problems'])}")
    return lines


def format_app(a: dict) -> list[str]:
    s = a["server"]
    lines = ["APP", *format_browser(a.get("browser", {"reason": "not run"})), "  where the time goes:",
             "  streamlit run -> health endpoint: "
             + (f"{s['seconds_to_health']:.1f} s (not part of the figures below)" if s.get("measured") else f"not measured ({s['reason']})")]
    p = a.get("probe", {})
    lib = a.get("library", {})
    if lib.get("measured"):
        stages = ", ".join(f"{k} {v:.1f}" for k, v in lib["stage_ms_median"].items())
        lines.append(f"  library path ({a['model']}): load + first task solved in {lib['seconds_to_first_predictions']:.2f} s; "
                     f"new sampled task {lib['interaction_ms_median']:.1f} ms (median ms: {stages})")
    if not p.get("measured"):
        lines.append(f"  page latencies: not measured ({p.get('reason')})")
        return lines
    load = f", load avg {fmt(a.get('load_average'), 2)} at the start" if a.get("load_average") is not None else ""
    lines.append(f"  AppTest in-process, each cold figure a median of {p['processes']} fresh processes, "
                 f"{a['clicks']} clicks each{load}:")
    lines += latency_table(a["latencies"])
    if "seconds_start_to_first_page" in a:
        lines.append(f"  server start to first page: {a['seconds_start_to_first_page']:.1f} s (health + cold first page)")
    if p["problems"]:
        lines.append(f"  the pages raised while timed: {' | '.join(p['problems'])}")
    if p["first_page_messages"]:
        lines.append(f"  the first page said: {' | '.join(p['first_page_messages'])}")
    lines.append(f"  peak resident memory of an app process (first page, clicks, explorer): {p['peak_rss_mb']:,.0f} MB")
    return lines


def format_raw(r: dict) -> list[str]:
    lines = [f"RAW IMAGES  model.adapt on {r['task']} tasks of files (new files every task): the generated path against 10-step MAML"]
    for fam in r["families"]:
        parts = fam["generated_parts_ms"]
        lines.append(f"  {fam['family']} ({fam['source']}), median of {fam['tasks']} tasks:")
        for row in fam["rows"]:
            note = f"  ({row['note']})" if row["note"] else ""
            lines.append(f"    {row['row']:<16}{row['median_ms']:>9.1f} ms{note}")
        decode = f" (decoding the files {parts['decode']:.1f} ms)" if "decode" in parts else ""
        lines.append(f"    {fam['generated']}: input gate {parts['input_gate']:.1f} ms{decode}, backbone {parts['backbone']:.1f} ms, "
                     f"generator {parts['generator']:.2f} ms")
        lines.append(f"    MAML-10 / {fam['generated']}: {fam['maml_over_generated']:.1f}x (target >= {fam['target_ratio']:.0f}x: {met(fam['met'])})")
        if not fam["met"] and "target_budget_ms" in fam:
            lines.append(f"    for {fam['target_ratio']:.0f}x, with MAML-10 still doing its extra work: {fam['generated']} <= "
                         f"{fam['target_budget_ms']:.1f} ms; backbone + generator leave the input gate "
                         f"{fam['gate_budget_ms']:.1f} ms" + (f" against {parts['decode']:.1f} ms of decoding alone" if "decode" in parts else ""))
    return lines


def format_photos(p: dict) -> list[str]:
    lines = [f"PHOTOS  5-way 5-shot + 15 queries a class (100 raw files, all new each time) -> predictions; "
             f"median of {p['repeats']}, {p['source']}",
             f"{'model':<16}{'input px':>9}{'median s':>10}{'accuracy':>10}   target <= {p['target_s']} s"]
    for row in p["rows"]:
        lines.append(f"{row['model']:<16}{row['input_px']:>9}{row['median_s']:>10.2f}{100 * row['accuracy']:>9.1f}%   {met(row['met'])}")
    return lines


def format_report(r: dict) -> str:
    lines = format_header(r)
    if "adaptation" in r:
        lines += ["", *format_adaptation(r["adaptation"], r["tasks"], r["queries"])]
    for section, formatter in (("batched", format_batched), ("raw", format_raw), ("photos", format_photos), ("training", format_training), ("pretraining", format_pretraining), ("data", format_data), ("app", format_app)):
        if section in r:
            lines += ["", *formatter(r[section])]
    lines += ["", f"bench took {r['bench_seconds']:.0f} s"]
    return "\n".join(lines)
