#!/usr/bin/env python3
"""scalebench against PyTorch's DistributedDataParallel (gloo), same work on both sides.

For each model, both sides train the same architecture (rebuilt here in torch.nn from
models/cifar10_cnn.cpp, models/fcn.cpp, models/cifar_resnets.cpp + models/resnet_basic.cpp and
models/imdb_cnn_lstm.cpp; parameter counts, BatchNorm statistics included as scalebench counts
them, are asserted equal to `scalebench models --json`), with the same loss (cross-entropy over
classes, binary cross-entropy on imdb_cnn_lstm's one logit), at the same per-rank batch, threads
per rank, optimizer (SGD, lr 0.01, momentum 0.9) and bucket cap (25 MiB), on synthetic data
generated before timing (float32 in [0, 1), or int64 token ids in [0, vocabulary) for
imdb_cnn_lstm), with the same number of ranks started by the same mpirun (so the same core
binding); BatchNorm statistics are broadcast from rank 0 every step on both sides (scalebench's
buffer sync, DDP's default broadcast_buffers=True). Runs alternate in rounds (scalebench, DDP,
then DDP, scalebench, ...) so drift of a shared machine hits both alike.

Per run: the median over measured steps (warm-up left out) of the slowest rank's step time. The
scalebench figure comes from its run file (/steps/step_s); the DDP worker times the same span
(zero_grad, forward, loss, backward with DDP's allreduce, optimizer step, loss.item()). Reported:
each side's median over rounds [min, max], and the ratio scalebench/DDP taken within each round.

  bench/ddp_compare.py --rounds 3                 # all five models, bounded to a few minutes
  bench/ddp_compare.py --models fcn_r --batch fcn_r=128 --steps 10
  bench/ddp_compare.py --json results.json       # also write every figure as JSON
  bench/ddp_compare.py --ddp-malloc jemalloc     # DDP with a caching malloc, like scalebench's
  bench/ddp_compare.py --sb-arg=--cpu-allocator=system   # scalebench with LibTorch's allocator
  bench/ddp_compare.py --cluster-hosts 2 --models fcn_r,cifar10_cnn   # 2 emulated hosts, TCP between them

--cluster-hosts N runs both sides on an emulated cluster of N hosts (scripts/cluster, needs root;
brought up here and taken down again, also on failure), --ranks spread evenly over them: Open MPI
reaches the other host over TCP on the cluster's bridge, gloo over TCP on each host's eth0 (its
rendezvous at host h1's address). --link RATE shapes every host's link (tc syntax, e.g. 1gbit).

scalebench caches large host blocks by default (--cpu-allocator caching); PyTorch uses malloc,
which maps and unmaps every large tensor. --ddp-malloc jemalloc gives DDP the same advantage
(LD_PRELOAD of Debian's libjemalloc2, configured to keep freed pages: oversize_threshold:0,
dirty and muzzy decay off), so that the comparison can be made like for like.

Internally it starts itself under mpirun with --worker for the DDP side.
"""
import argparse
import json
import os
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

MODELS = ("cifar10_cnn", "fcn_r", "fcn_s", "resnet56", "imdb_cnn_lstm")
# Per-rank batches small enough that a round of each model takes well under a minute on the
# 2-core VM with reference BLAS (fcn_r's own default is 342, fcn_s's 64, resnet56's 128;
# imdb_cnn_lstm's is its own 30).
DEFAULT_BATCH = {"cifar10_cnn": 32, "fcn_r": 64, "fcn_s": 8, "resnet56": 16, "imdb_cnn_lstm": 30}
DEFAULT_STEPS = {"cifar10_cnn": 12, "fcn_r": 6, "fcn_s": 5, "resnet56": 8, "imdb_cnn_lstm": 12}
# models/imdb_cnn_lstm.cpp: the Keras example's max_features, maxlen and embedding_size (scalebench's
# defaults; its synthetic token ids are int64, uniform in [0, vocabulary)).
IMDB_VOCAB, IMDB_SEQUENCE, IMDB_EMBEDDING = 20000, 100, 128
LR, MOMENTUM, BUCKET_MB = 0.01, 0.9, 25
JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
# Freed pages stay with the process (no purge after a decay time, large blocks in the normal
# arenas): the same reuse scalebench's cache gives (runtime/memory_budget.hpp).
JEMALLOC_CONF = "oversize_threshold:0,dirty_decay_ms:-1,muzzy_decay_ms:-1"
CLUSTER_NAME = "ddpcmp"


# --- The architectures, as models/*.cpp build them ------------------------------------------------
# build_model(name) -> (module, spec). spec: "input" (per-sample shape), "vocab" (None: float32
# features uniform in [0, 1); else int64 token ids in [0, vocab)), "classes" (of the targets) and
# "loss" ("cross_entropy" on logits over classes, or "bce" = binary cross-entropy with logits on a
# single output unit, targets 0/1), as models/network.cpp's Network::loss computes them.
def _resnet56():
    import torch.nn as nn
    import torch.nn.functional as F

    # models/resnet_basic.cpp with cifar_resnets.cpp's resnet56 spec: widths 16/32/64, 9 basic
    # blocks per stage, no conv bias, BatchNorm eps 1e-5 momentum 0.1 (torch's defaults), option-A
    # shortcuts, global average pool, Linear(64, 10) with bias. Convolutions pad as Keras 'same':
    # stride 1 is torch's symmetric padding 1; stride 2 on an even size pads only bottom/right.
    class SameConv3x3(nn.Conv2d):
        def __init__(self, cin, cout, stride):
            super().__init__(cin, cout, 3, stride=stride, padding=1 if stride == 1 else 0, bias=False)

        def forward(self, x):
            if self.stride[0] != 1:
                def pads(n):  # keras_same_padding: total so that out = ceil(n / s), the odd cell after
                    total = max((-(-n // self.stride[0]) - 1) * self.stride[0] + 3 - n, 0)
                    return total // 2, total - total // 2
                top, bottom = pads(x.shape[2])
                left, right = pads(x.shape[3])
                x = F.pad(x, (left, right, top, bottom))
            return super().forward(x)

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = SameConv3x3(cin, cout, stride)
            self.bn1 = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)
            self.conv2 = SameConv3x3(cout, cout, 1)
            self.bn2 = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)
            self.stride, self.pad_channels = stride, cout - cin

        def forward(self, x):
            y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
            if self.stride != 1 or self.pad_channels:
                # Option A: every stride-th pixel, new channels zero (half before, half after).
                x = x[:, :, ::self.stride, ::self.stride]
                before = self.pad_channels // 2
                x = F.pad(x, (0, 0, 0, 0, before, self.pad_channels - before))
            return F.relu(y + x)

    class ResNet56(nn.Module):
        def __init__(self, widths=(16, 32, 64), blocks=9, classes=10):
            super().__init__()
            self.conv1 = SameConv3x3(3, widths[0], 1)
            self.bn1 = nn.BatchNorm2d(widths[0], eps=1e-5, momentum=0.1)
            layers, cin = [], widths[0]
            for s, w in enumerate(widths):
                for b in range(blocks):
                    layers.append(BasicBlock(cin, w, 2 if b == 0 and s > 0 else 1))
                    cin = w
            self.stages = nn.Sequential(*layers)
            self.fc = nn.Linear(cin, classes)
            for m in self.modules():  # torchvision_initialize: He-normal (fan_out) convs, BN 1/0
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

        def forward(self, x):
            x = self.stages(F.relu(self.bn1(self.conv1(x))))
            return self.fc(x.mean((2, 3)))

    return ResNet56()


def _imdb_cnn_lstm():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class KerasLSTM(nn.Module):
        # models/layers.hpp KerasLSTM: Keras' parameters (kernel [4h, in], recurrent kernel [4h, h],
        # ONE bias [4h]; nn.LSTM would have two), run through torch's fused LSTM with a zero second
        # bias, returning the last hidden state. Keras' initialisation: glorot kernel, orthogonal
        # recurrent kernel, zero bias with 1 on the forget gate (torch's gate order i, f, g, o).
        def __init__(self, inputs, hidden):
            super().__init__()
            self.hidden = hidden
            self.weight_ih = nn.Parameter(torch.empty(4 * hidden, inputs))
            self.weight_hh = nn.Parameter(torch.empty(4 * hidden, hidden))
            self.bias = nn.Parameter(torch.zeros(4 * hidden))
            with torch.no_grad():
                nn.init.xavier_uniform_(self.weight_ih)
                nn.init.orthogonal_(self.weight_hh)
                self.bias[hidden:2 * hidden] = 1.0

        def forward(self, x):  # [B, T, in] -> [B, h]
            zeros = x.new_zeros(1, x.shape[0], self.hidden)
            _, h, _ = torch.lstm(x, (zeros, zeros), [self.weight_ih, self.weight_hh, self.bias,
                                                     torch.zeros_like(self.bias)],
                                 True, 1, 0.0, self.training, False, True)
            return h.squeeze(0)

    class ImdbCnnLstm(nn.Module):
        # models/imdb_cnn_lstm.cpp: Embedding(20000, 128) -> Dropout 0.25 -> Conv1d(128, 64, 5,
        # valid, bias) + ReLU -> MaxPool1d(4) -> LSTM(70) -> Linear(70, 1), a logit for the
        # binary cross-entropy. Conv1d on [B, C, T]: transposed around it as scalebench does.
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(IMDB_VOCAB, IMDB_EMBEDDING)
            nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
            self.dropout = nn.Dropout(0.25)
            self.conv = nn.Conv1d(IMDB_EMBEDDING, 64, 5)
            self.lstm = KerasLSTM(64, 70)
            self.dense = nn.Linear(70, 1)
            for m in (self.conv, self.dense):  # keras_initialize: glorot kernels, zero biases
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

        def forward(self, tokens):
            x = self.dropout(self.embedding(tokens))                       # [B, T, E]
            x = F.relu(self.conv(x.transpose(1, 2)))                       # [B, 64, T-4]
            x = F.max_pool1d(x, 4, 4).transpose(1, 2).contiguous()         # [B, (T-4)/4, 64]
            return self.dense(self.lstm(x))                                # [B, 1]

    return ImdbCnnLstm()


def build_model(name):
    import torch.nn as nn
    if name == "cifar10_cnn":
        # models/cifar10_cnn.cpp: Keras 'same' 3x3 = padding 1, 'valid' = none; 32 -> 30 -> 15 -> 13 -> 6.
        return nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3), nn.ReLU(),
            nn.MaxPool2d(2), nn.Dropout(0.25),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3), nn.ReLU(),
            nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(),
            nn.Linear(64 * 6 * 6, 512), nn.ReLU(), nn.Dropout(0.5), nn.Linear(512, 10)), \
            {"input": (3, 32, 32), "vocab": None, "classes": 10, "loss": "cross_entropy"}
    if name == "resnet56":
        return _resnet56(), {"input": (3, 32, 32), "vocab": None, "classes": 10, "loss": "cross_entropy"}
    if name == "imdb_cnn_lstm":
        # One sigmoid unit: targets 0/1 (scalebench's synthetic labels over 2 classes).
        return _imdb_cnn_lstm(), {"input": (IMDB_SEQUENCE,), "vocab": IMDB_VOCAB, "classes": 2, "loss": "bce"}
    widths = {"fcn_r": [784, 2048, 4096, 1024, 10],
              "fcn_s": [26752, 2048, 2048, 2048, 26752]}[name]
    layers = []
    for i in range(len(widths) - 1):  # models/fcn.cpp: Linear, sigmoid between (not after the last)
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i + 2 < len(widths):
            layers.append(nn.Sigmoid())
    return nn.Sequential(*layers), {"input": (widths[0],), "vocab": None, "classes": widths[-1],
                                    "loss": "cross_entropy"}


def param_count(model):
    # As scalebench's params_total (models/network.cpp count_total_params, Keras' "Total params"):
    # parameters plus buffers (BatchNorm running mean/var), not torch's num_batches_tracked.
    return sum(p.numel() for p in model.parameters()) + sum(
        b.numel() for n, b in model.named_buffers() if not n.endswith("num_batches_tracked"))


# --- DDP worker (one rank, started by mpirun) -----------------------------------------------------
def worker(args):
    import torch
    import torch.distributed as dist
    import torch.nn.functional as F
    from torch.nn.parallel import DistributedDataParallel as DDP

    rank = int(os.environ["OMPI_COMM_WORLD_RANK"])
    world = int(os.environ["OMPI_COMM_WORLD_SIZE"])
    torch.set_num_threads(args.threads)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(1)
    model, spec = build_model(args.model)
    count = param_count(model)
    if count != args.expect_params:
        raise SystemExit(f"{args.model}: {count} parameters here, scalebench has {args.expect_params}")
    # broadcast_buffers=True (DDP's default) broadcasts rank 0's buffers (BatchNorm statistics)
    # before every forward: the counterpart of scalebench's buffer sync, so it is kept.
    ddp = DDP(model, bucket_cap_mb=BUCKET_MB, broadcast_buffers=True)
    opt = torch.optim.SGD(ddp.parameters(), lr=LR, momentum=MOMENTUM)
    gen = torch.Generator().manual_seed(100 + rank)
    shape = (args.worker_batch,) + tuple(spec["input"])

    def make_batch():
        if spec["vocab"] is None:
            x = torch.rand(shape, generator=gen)
        else:  # token ids, int64 in [0, vocab), as datasets/synthetic.cpp makes them
            x = torch.randint(spec["vocab"], shape, generator=gen, dtype=torch.int64)
        y = torch.randint(spec["classes"], (args.worker_batch,), generator=gen)
        return x, (y.float() if spec["loss"] == "bce" else y)

    def loss_fn(out, y):  # models/network.cpp Network::loss
        if spec["loss"] == "bce":
            return F.binary_cross_entropy_with_logits(out.reshape(-1), y)
        return F.cross_entropy(out, y)

    batches = [make_batch() for _ in range(4)]
    times = []
    for step in range(args.worker_steps):
        x, y = batches[step % len(batches)]
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(ddp(x), y)
        loss.backward()
        opt.step()
        loss.item()
        times.append(time.perf_counter() - t0)
    t = torch.tensor(times, dtype=torch.float64)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)  # the slowest rank's time of each step
    if rank == 0:
        with open(args.worker_out, "w") as f:
            json.dump({"step_s": t.tolist(), "params": count}, f)
    dist.destroy_process_group()


# --- Orchestration --------------------------------------------------------------------------------
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launcher(args, ranks):
    """The mpirun that starts one side's ranks: on this host, or across the emulated cluster."""
    if not args.cluster:
        return benchlib.mpirun_prefix(ranks)
    return args.cluster.mpirun_prefix(ranks, ranks // args.cluster_hosts)


def scalebench_params(binary):
    res = benchlib.run_job([binary, "models", "--json"], timeout=300)
    return {m["name"]: m["params_total"] for m in json.loads(res.stdout)}


def run_scalebench(args, binary, model, batch, steps, tmp):
    import h5py
    import numpy as np
    out = os.path.join(tmp, f"sb-{model}-{time.monotonic_ns()}.h5")
    cmd = launcher(args, args.ranks) + [
        binary, "train", "--model", model, "--device", "cpu", "--batch-size", str(batch),
        "--steps", str(steps), "--warmup-steps", str(args.warmup), "--threads", str(args.threads),
        "--optimizer", "sgd", "--lr", str(LR), "--momentum", str(MOMENTUM),
        "--bucket-mb", str(BUCKET_MB), "--quiet", "--output", out] + list(args.sb_arg or [])
    benchlib.run_job(cmd, timeout=args.timeout)
    with h5py.File(out, "r") as f:
        times = benchlib.measured_step_times(f)
    os.remove(out)
    return float(np.median(times))


def run_ddp(args, model, batch, steps, expect_params, tmp):
    import statistics
    out = os.path.join(tmp, f"ddp-{model}-{time.monotonic_ns()}.json")
    env = dict(os.environ, MASTER_ADDR=args.master_addr, MASTER_PORT=str(free_port()),
               OMP_NUM_THREADS=str(args.threads))
    exported = ["-x", "MASTER_ADDR", "-x", "MASTER_PORT", "-x", "OMP_NUM_THREADS"]
    if args.cluster_hosts:  # gloo picks its interface from the hostname otherwise: use the link
        env["GLOO_SOCKET_IFNAME"] = "eth0"
        exported += ["-x", "GLOO_SOCKET_IFNAME"]
    if args.ddp_malloc == "jemalloc":
        env.update(LD_PRELOAD=JEMALLOC, MALLOC_CONF=JEMALLOC_CONF)
        exported += ["-x", "LD_PRELOAD", "-x", "MALLOC_CONF"]
    cmd = launcher(args, args.ranks) + exported + [
        sys.executable, os.path.abspath(__file__), "--worker", "--model", model,
        "--batch-one", str(batch), "--steps-one", str(steps), "--threads", str(args.threads),
        "--expect-params", str(expect_params), "--worker-out", out]
    benchlib.run_job(cmd, timeout=args.timeout, env=env)
    with open(out) as f:
        times = json.load(f)["step_s"]
    os.remove(out)
    return statistics.median(times[args.warmup:])


def parse_per_model(items, defaults):
    out = dict(defaults)
    for item in items or []:
        name, _, value = item.partition("=")
        if name not in MODELS or not value.isdigit():
            sys.exit(f"error: expected MODEL=N with MODEL in {', '.join(MODELS)}, got {item!r}")
        out[name] = int(value)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated, from: " + ", ".join(MODELS))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--threads", type=int, default=1, help="intra-op threads per rank")
    p.add_argument("--batch", action="append", metavar="MODEL=N", help=f"per-rank batch (default {DEFAULT_BATCH})")
    p.add_argument("--steps", action="append", metavar="MODEL=N", help=f"steps per run, warm-up included (default {DEFAULT_STEPS})")
    p.add_argument("--warmup", type=int, default=1, help="leading steps left out of each run's median")
    p.add_argument("--timeout", type=float, default=600, help="seconds one run may take")
    p.add_argument("--bin", help="scalebench binary (default $SCALEBENCH_BIN or build/scalebench)")
    p.add_argument("--json", help="write the figures to this file")
    p.add_argument("--ddp-malloc", choices=("system", "jemalloc"), default="system",
                   help="DDP's malloc: the system's (glibc), or jemalloc keeping freed pages")
    p.add_argument("--sb-arg", action="append", metavar="ARG",
                   help="an extra scalebench train argument (repeat; --sb-arg=--x=y)")
    p.add_argument("--cluster-hosts", type=int, default=0, metavar="N",
                   help="run on an emulated cluster of N hosts (scripts/cluster; root), --ranks spread over them")
    p.add_argument("--link", metavar="RATE", help="with --cluster-hosts: shape every host's link (e.g. 1gbit)")
    # Worker mode (started by the orchestrator under mpirun).
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--batch-one", dest="worker_batch", type=int, help=argparse.SUPPRESS)
    p.add_argument("--steps-one", dest="worker_steps", type=int, help=argparse.SUPPRESS)
    p.add_argument("--expect-params", type=int, help=argparse.SUPPRESS)
    p.add_argument("--worker-out", help=argparse.SUPPRESS)
    args = p.parse_args()
    benchlib.ensure_modules("torch", "numpy", "h5py")
    if args.worker:
        return worker(args)

    binary = benchlib.scalebench_binary(args.bin)
    if args.cluster_hosts < 0 or (args.cluster_hosts and args.ranks % args.cluster_hosts):
        sys.exit(f"error: --ranks {args.ranks} must be a multiple of --cluster-hosts {args.cluster_hosts}")
    if args.link and not args.cluster_hosts:
        sys.exit("error: --link needs --cluster-hosts")
    if args.cluster_hosts and os.geteuid() != 0:
        sys.exit("error: --cluster-hosts needs root (the emulated cluster's namespaces)")
    models = [m for m in args.models.split(",") if m]
    for m in models:
        if m not in MODELS:
            sys.exit(f"error: --models {m}: allowed: {', '.join(MODELS)}")
    batch = parse_per_model(args.batch, DEFAULT_BATCH)
    steps = parse_per_model(args.steps, DEFAULT_STEPS)
    if any(steps[m] <= args.warmup for m in models):
        sys.exit("error: every model needs more --steps than --warmup")
    if args.ddp_malloc == "jemalloc" and not os.path.exists(JEMALLOC):
        sys.exit(f"error: --ddp-malloc jemalloc: {JEMALLOC} not found (apt-get install libjemalloc2)")
    params = scalebench_params(binary)
    for m in models:  # the same architecture on both sides, checked before anything is timed
        count = param_count(build_model(m)[0])
        if count != params[m]:
            sys.exit(f"error: {m}: the torch.nn replica has {count} parameters, scalebench {params[m]}")
    where = (f"emulated cluster of {args.cluster_hosts} hosts, link {args.link or 'unshaped'}"
             if args.cluster_hosts else "one host")
    print(f"# ddp_compare: {where}, {args.ranks} ranks, {args.threads} thread(s)/rank, {args.rounds} rounds, "
          f"SGD lr {LR} momentum {MOMENTUM}, bucket {BUCKET_MB} MiB, {args.warmup} warm-up step(s) left out, "
          f"DDP malloc {args.ddp_malloc}, scalebench extra args {args.sb_arg or []}",
          flush=True)
    args.cluster, args.master_addr = None, "127.0.0.1"
    if args.cluster_hosts:
        with benchlib.EmulatedCluster(CLUSTER_NAME, args.cluster_hosts, args.link) as args.cluster:
            args.master_addr = args.cluster.host_address(1)  # rank 0 runs on h1: gloo's rendezvous
            results = compare(args, binary, models, batch, steps, params)
    else:
        results = compare(args, binary, models, batch, steps, params)
    print(f"\n| model | params | batch/rank | scalebench step ms | DDP step ms | scalebench/DDP |")
    print("| --- | ---: | ---: | --- | --- | --- |")
    for m, r in results.items():
        print(f"| {m} | {r['params']:,} | {r['batch_per_rank']} | {benchlib.fmt_range(r['scalebench_step_s'], 1e3, 1)} | "
              f"{benchlib.fmt_range(r['ddp_step_s'], 1e3, 1)} | {benchlib.fmt_range(r['ratio'])} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"ranks": args.ranks, "threads": args.threads, "rounds": args.rounds,
                       "cluster_hosts": args.cluster_hosts, "link": args.link,
                       "ddp_malloc": args.ddp_malloc, "scalebench_args": args.sb_arg or [],
                       "models": results}, f, indent=2)


def compare(args, binary, models, batch, steps, params):
    """Both sides in interleaved rounds, per model; returns the figures per model."""
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for m in models:
            sb, ddp, ratio = [], [], []
            for r in range(args.rounds):
                order = ("sb", "ddp") if r % 2 == 0 else ("ddp", "sb")
                got = {}
                for side in order:
                    if side == "sb":
                        got[side] = run_scalebench(args, binary, m, batch[m], steps[m], tmp)
                    else:
                        got[side] = run_ddp(args, m, batch[m], steps[m], params[m], tmp)
                sb.append(got["sb"])
                ddp.append(got["ddp"])
                ratio.append(got["sb"] / got["ddp"])
                print(f"  {m} round {r + 1}: scalebench {got['sb'] * 1e3:.1f} ms, DDP {got['ddp'] * 1e3:.1f} ms, "
                      f"ratio {ratio[-1]:.3f}", flush=True)
            results[m] = {"params": params[m], "batch_per_rank": batch[m], "steps": steps[m],
                          "scalebench_step_s": sb, "ddp_step_s": ddp, "ratio": ratio}
    return results


if __name__ == "__main__":
    main()
