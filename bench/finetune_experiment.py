#!/usr/bin/env python3
"""Does MAE pre-training help fine-tuning? (issue 7, item 8)

End to end with the CLI, per dataset:
  pretrain (mask 0.5 / 0.75 / 0.9, P CPU-s each) -> finetune --init (F CPU-s)
  finetune --scratch (F CPU-s) and --scratch (P + F CPU-s: the same total budget)
  -> segment the validation part -> eval
and prints one table (Markdown) of the metrics, the pre-training loss against
the trivial norm-pix score 255/256 and the steps each budget bought.

Datasets (../shared/em-data):
  isbi   ISBI 2012 membranes: train slices 0-19, validate 20-29 (eval --per-slice: arand, dice)
  vnc    VNC stack 1 mitochondria: train slices 0-6, validate 7-9 (ap50, ap75, dice)
  fibsem FIB-SEM neurons: train on train-image, evaluate on test-image (arand, voi)
The MAE pre-trains on the dataset's whole unlabelled image (ISBI, VNC: all slices, as a user
would pre-train on their own stack; FIB-SEM: train-image only). Fine-tuning never sees the
validation labels (no --val-data: the last checkpoint is evaluated, nothing is selected on
the validation part).

Budgets are process CPU time (semmae --cpu-budget). Each job runs with --threads 1; CHAINS
independent chains (pretrain -> finetune -> segment -> eval) run side by side, so at most
CHAINS threads work at once. One thread per process because at 2 threads on a busy shared
machine OpenBLAS/OpenMP threads spin-wait and a step costs 2-4x more CPU time (see
bench/README.md), which would charge the budgets with waiting instead of work.

usage: OPENBLAS_CORETYPE=Haswell python3 bench/finetune_experiment.py --semmae BIN \
         --work /tmp/experiment/run [--pretrain-cpu P] [--finetune-cpu F] [--datasets isbi,vnc,fibsem]
         [--masks 0.5,0.75,0.9] [--seed S] [--chains 2] [--nice 5]
Re-running with the same --work reuses finished jobs (each job's outputs + a .done file).
"""
import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import time

TRIVIAL = 255.0 / 256.0  # norm-pix MSE of predicting the patch mean (mae-check.md)

DATASETS = {
    "isbi": dict(
        image="isbi2012/image", labels="isbi2012/label", task="membrane",
        train_z="0:20", val_image="isbi2012/image/2[0-9].png",
        val_labels="isbi2012/label/2[0-9].png",
        eval_args=["--per-slice", "--metrics", "arand,dice"], metrics=["arand", "dice"],
        pretrain_data="isbi2012/image"),
    "vnc": dict(
        image="vnc-stack1/raw", labels="vnc-stack1/mitochondria", task="mito",
        train_z="0:7", val_image="vnc-stack1/raw/0[7-9].tif",
        val_labels="vnc-stack1/mitochondria/0[7-9].png",
        eval_args=["--components", "--metrics", "ap50,ap75,dice"],
        metrics=["ap50", "ap75", "dice"], pretrain_data="vnc-stack1/raw"),
    "fibsem": dict(
        image="fibsem-mini/train-image.tif", labels="fibsem-mini/train-labels.tif",
        task="neurons", train_z=None, val_image="fibsem-mini/test-image.tif",
        val_labels="fibsem-mini/test-labels.tif", eval_args=["--metrics", "arand,voi"],
        metrics=["arand", "voi_split", "voi_merge"],
        pretrain_data="fibsem-mini/train-image.tif"),
}
LOWER_IS_BETTER = {"arand", "voi_split", "voi_merge"}


def log(msg):
    print(time.strftime("%H:%M:%S"), msg, file=sys.stderr, flush=True)


class Runner:
    def __init__(self, args):
        self.a = args
        self.data = os.path.abspath(args.data)

    def run(self, name, argv):
        """Runs one semmae job (skipped if already done); returns its stderr text."""
        done = os.path.join(self.a.work, name + ".done")
        errpath = os.path.join(self.a.work, name + ".stderr")
        if os.path.exists(done):
            return open(errpath).read()
        cmd = ["nice", "-n", str(self.a.nice), self.a.semmae] + argv
        with open(os.path.join(self.a.work, "commands.sh"), "a") as f:
            f.write(" ".join(cmd) + "\n")
        log("start " + name)
        t0 = time.time()
        c0 = os.times()
        with open(errpath, "w") as err, open(os.path.join(self.a.work, name + ".out"), "w") as o:
            rc = subprocess.call(cmd, stderr=err, stdout=o, cwd=self.a.work)
        c1 = os.times()
        text = open(errpath).read()
        if rc != 0:
            raise RuntimeError(f"{name} failed (exit {rc}): {text.strip().splitlines()[-1:]}")
        cpu = (c1.children_user + c1.children_system) - (c0.children_user + c0.children_system)
        with open(done, "w") as f:
            json.dump({"wall_s": time.time() - t0}, f)
        log(f"done  {name}: {time.time() - t0:.0f} s wall (children CPU so far {cpu:.0f} s)")
        return text

    def d(self, rel):
        return os.path.join(self.data, rel)

    def pretrain(self, ds, mask):
        cfg = DATASETS[ds]
        name = f"{ds}-mae{mask}"
        out = name + ".safetensors"
        argv = ["pretrain", "--data", self.d(cfg["pretrain_data"]), "--out", out,
                "--mask-ratio", str(mask), "--cpu-budget", str(self.a.pretrain_cpu),
                "--threads", "1", "--seed", str(self.a.seed), "--save-every", "0",
                "--log", name + ".csv"] + self.a.pretrain_extra
        err = self.run(name, argv)
        m = re.search(r"of the last (\d+) ([0-9.naninf]+)", err)
        s = re.search(r"used ([0-9.]+) CPU-s for (\d+) steps", err)
        return out, {"mae_loss": float(m.group(2)) if m else float("nan"),
                     "mae_steps": int(s.group(2)) if s else None,
                     "mae_cpu": float(s.group(1)) if s else None}

    def finetune_eval(self, ds, run, init, budget):
        cfg = DATASETS[ds]
        name = f"{ds}-ft-{run}"
        model = name + ".safetensors"
        argv = ["finetune", "--data", self.d(cfg["image"]), "--labels", self.d(cfg["labels"]),
                "--task", cfg["task"], "--out", model, "--cpu-budget", str(budget),
                "--threads", "1", "--seed", str(self.a.seed), "--log", name + ".csv"]
        if cfg["train_z"]:
            argv += ["--z-range", cfg["train_z"]]
        argv += (["--init", init] if init else ["--scratch"]) + self.a.finetune_extra
        err = self.run(name, argv)
        s = re.search(r"used ([0-9.]+) CPU-s for (\d+) steps", err)
        row = {"ft_steps": int(s.group(2)) if s else None,
               "ft_cpu": float(s.group(1)) if s else None}
        # training loss: mean of the last 50 logged steps
        losses = [float(l.split(",")[1]) for l in open(os.path.join(self.a.work, name + ".csv"))]
        row["ft_loss"] = sum(losses[-50:]) / max(1, len(losses[-50:]))
        seg = name + "-labels.tif"
        self.run(name + "-segment", ["segment", "--model", model, "--data",
                                     self.d(cfg["val_image"]), "--out", seg, "--threads", "1"]
                 + self.a.segment_extra)
        self.run(name + "-eval", ["eval", "--pred", seg, "--truth", self.d(cfg["val_labels"])]
                 + cfg["eval_args"])
        return row

    def eval_metrics(self, name):
        path = os.path.join(self.a.work, name + "-eval.out")
        vals = {}
        for line in open(path):
            k, _, v = line.partition(":")
            try:
                vals[k.strip()] = float(v)
            except ValueError:
                pass
        return vals


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--semmae", required=True)
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                   "shared", "em-data"))
    ap.add_argument("--work", required=True)
    ap.add_argument("--pretrain-cpu", type=float, default=150)
    ap.add_argument("--finetune-cpu", type=float, default=150)
    ap.add_argument("--datasets", default="isbi,vnc,fibsem")
    ap.add_argument("--masks", default="0.5,0.75,0.9")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--nice", type=int, default=5)
    ap.add_argument("--pretrain-extra", default="", help="more semmae pretrain options")
    ap.add_argument("--finetune-extra", default="", help="more semmae finetune options")
    ap.add_argument("--segment-extra", default="", help="more semmae segment options")
    ap.add_argument("--init-from", action="append", default=[], metavar="LABEL=M.safetensors",
                    help="instead of the protocol, only fine-tune (F CPU-s) from this existing "
                         "MAE checkpoint, e.g. a longer pre-training; row init-LABEL")
    ap.add_argument("--table-only", action="store_true",
                    help="print the table of the runs finished in --work, run nothing")
    a = ap.parse_args()
    a.pretrain_extra = a.pretrain_extra.split()
    a.segment_extra = a.segment_extra.split()
    a.finetune_extra = a.finetune_extra.split()
    a.semmae = os.path.abspath(a.semmae)
    os.makedirs(a.work, exist_ok=True)
    r = Runner(a)
    datasets = a.datasets.split(",")
    masks = [float(m) for m in a.masks.split(",")]
    P, F = a.pretrain_cpu, a.finetune_cpu

    # One chain per table row; the key comparison (mask 0.75 against both scratch runs) of
    # every dataset first, then the other masks, so a run cut short still answers the question.
    chains = []
    order = sorted(masks, key=lambda m: abs(m - 0.75))
    for ds in datasets:
        chains.append((ds, f"init-mae{order[0]}", order[0]))
        chains.append((ds, "scratch-PF", None))
        chains.append((ds, "scratch-F", None))
    for m in order[1:]:
        chains.extend((ds, f"init-mae{m}", m) for ds in datasets)
    if a.init_from:
        chains = [(ds, "init-" + spec.split("=", 1)[0], os.path.abspath(spec.split("=", 1)[1]))
                  for spec in a.init_from for ds in datasets]

    def chain(c):
        ds, run, mask = c
        row = {"dataset": ds, "run": run}
        init, budget = None, F
        if isinstance(mask, str):  # --init-from: an existing checkpoint
            init = mask
        elif mask is not None:
            init, info = r.pretrain(ds, mask)
            row.update(info)
        elif run == "scratch-PF":
            budget = P + F
        row.update(r.finetune_eval(ds, run, init, budget))
        row.update(r.eval_metrics(f"{ds}-ft-{run}"))
        with open(os.path.join(a.work, f"{ds}-ft-{run}.row.json"), "w") as f:
            json.dump(row, f)
        return row

    commit_file = os.path.join(a.work, "commit.txt")
    if not os.path.exists(commit_file):  # the source the runs were started from
        with open(commit_file, "w") as f:
            f.write(subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(__file__)),
                                    "rev-parse", "HEAD"], capture_output=True, text=True).stdout)
    rows = {}
    if a.table_only:
        for c in chains:
            path = os.path.join(a.work, f"{c[0]}-ft-{c[1]}.row.json")
            if os.path.exists(path):
                rows[c] = json.load(open(path))
        print(table(a, chains, rows, P, F))
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.chains) as pool:
        futs = {pool.submit(chain, c): c for c in chains}
        for fut in concurrent.futures.as_completed(futs):
            c = futs[fut]
            try:
                rows[c] = fut.result()
            except Exception as e:  # report and go on with the other chains
                log(f"chain {c} failed: {e}")
    print(table(a, chains, rows, P, F))


def fmt(v, nd=4):
    if v is None:
        return "-"
    if isinstance(v, float):
        return "nan" if v != v else f"{v:.{nd}f}"
    return str(v)


def table(a, chains, rows, P, F):
    commit = open(os.path.join(a.work, "commit.txt")).read().strip()[:10]
    out = [f"semmae commit {commit}; P = {P:g} CPU-s pre-training, F = {F:g} CPU-s fine-tuning, "
           f"seed {a.seed}, --threads 1 per job; trivial norm-pix loss {TRIVIAL:.5f}", ""]
    for ds in dict.fromkeys(c[0] for c in chains):
        cfg = DATASETS[ds]
        ms = cfg["metrics"]
        out.append(f"### {ds} ({cfg['task']}; validation {cfg['val_image']})")
        out.append("")
        out.append("| run | budget CPU-s | MAE loss (steps) | ft steps | ft loss | "
                   + " | ".join(ms) + " |")
        out.append("|---|---|---|---|---|" + "---|" * len(ms))
        for c in sorted((c for c in chains if c[0] == ds), key=lambda c: c[1]):
            row = rows.get(c)
            if not row:
                out.append(f"| {c[1]} | not run / failed |")
                continue
            budget = "given + " + f"{F:g}" if isinstance(c[2], str) else \
                f"{P:g} + {F:g}" if c[2] is not None else (f"{P + F:g}" if c[1] == "scratch-PF"
                                                                   else f"{F:g}")
            mae = (f"{fmt(row['mae_loss'], 5)} ({row['mae_steps']})" if "mae_loss" in row else "-")
            out.append(f"| {c[1]} | {budget} | {mae} | {fmt(row.get('ft_steps'))} | "
                       f"{fmt(row.get('ft_loss'))} | "
                       + " | ".join(fmt(row.get(m)) for m in ms) + " |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    main()
