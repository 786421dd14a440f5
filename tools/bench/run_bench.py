#!/usr/bin/env python3
"""`make bench`: libaecv (through its C API) against PyTorch, side by side in one run.

    make bench                                  # = make lib, then: python3 tools/bench/run_bench.py
    python3 tools/bench/run_bench.py [--quick] [--seconds 3] [--repeats 3] [--no-torch]
                                     [--only train,latency,rss,scaling,gflops,malloc,vision,sizes]
    python3 tools/bench/run_bench.py --build-only      # just build build/bench/* (profile.sh)

Runs with the default python3 and the standard library only (no numpy, no torch in this
process). The PyTorch side runs in subprocesses of Debian's python3-torch (/usr/bin/python3, or
$TORCH_PYTHON); if torch cannot be imported there, a banner says so and that side is skipped.

What it does, in order:
 1. Snapshot the library: build/lib/libaecv.so.0.1.0 is copied (atomically) to build/bench/lib/,
    and every libaecv measurement of the run loads that copy. Other engineers rebuild build/lib
    while benchmarks run; `cp` over a mapped library crashes the processes using it, and a run
    should measure one build. Compile tools/bench/bench_train.c against include/ and the
    snapshot, tools/bench/malloc_count.c (LD_PRELOAD shim) and tools/bench/sgemm_ceiling.c.
 2. Training throughput at batch 64 for conv, conv_vae, dense, vae, sparse, denoising; each side
    at 1 and at 2 threads, run alternately (libaecv, PyTorch, libaecv, PyTorch, ...) so both see
    the same machine state; each run is --repeats windows of --seconds after 20 warm-up steps,
    and reports the median window. The best thread setting of each side is compared.
 3. Latency of one image (encode, reconstruct), 1 thread, both sides.
 4. Peak RSS (ru_maxrss) of one epoch of conv training over all 60,000 images, both sides keeping
    the data in memory as float32 and loading it chunk by chunk (the same loader). For
    reference, PyTorch is also run with a loader that first reads the whole file (what the first
    bench_torch.py did, and what issue 9's 530-630 MB reference was measured with).
 5. Scaling: images/s at batch 1, 8, 64, 256 on 1 and 2 threads for conv and dense (libaecv), with
    PyTorch at 1 thread (its best on these machines) for reference.
 6. Achieved GFLOP/s of the dense AE at batch 256 against the OpenBLAS sgemm 1024^3 ceiling at 1
    and 2 threads, measured in the same run.
 7. Heap allocations per train_step after the first call (LD_PRELOAD shim), every preset at 1
    thread and conv/dense at 2 threads, with the allocation sites resolved (addr2line).
 8. Vision layers: a conv AE with BatchNorm, max pooling and nearest upsampling at 1x28x28 and
    3x64x64, batch 32, images/s at 1 and 2 threads, against PyTorch 1.13 and 2.x
    (tools/bench_vision.py, which runs libaecv through the Python binding, so numpy is needed
    there).
 9. Image sizes: the seed's conv AE (stride-2 convs, ConvTranspose decoder, no BatchNorm) at
    1x28x28, 3x64x64, 3x128x128 and 3x256x256, batch 32, best of 1 and 2 threads on each side
    against PyTorch 1.13 and 2.x (tools/bench_vision.py --model seed), with the analytic
    training FLOPs per image, libaecv's achieved GFLOP/s at 1 thread and its fraction of the 1-thread
    sgemm ceiling (measured in the gflops section, or here when that section did not run).
10. Print the tables; write build/bench/results.json and build/bench/results.md.

FLOP counting (issue 9): training FLOPs per image = 3 x forward multiply-adds x 2 (forward, input
gradient, weight gradient; a multiply-add is 2 FLOPs). Forward multiply-adds (MACs) per 28x28
image, counted from the layer geometry as GEMMs:
  Dense(in, out)                 in * out
  Conv2d(Cin->Cout, k, ->Ho x Wo)   Cout * Ho * Wo * Cin * k * k
  ConvTranspose2d(Cin->Cout, k, Hi x Wi ->)  Cin * Hi * Wi * Cout * k * k   (GEMM then col2im:
                                 every tap, including those cropped by the padding)
  conv      = 28,224 + 225,792 + 294,912 (encoder 1->16->32->64 at 14, 7, 4)
            + 294,912 + 225,792 + 28,224 (decoder)                        = 1,097,856
  denoising = conv                                                        = 1,097,856
  conv_vae  = conv encoder 548,928 + heads 1024 x 40 = 40,960
            + Linear(20, 1024) 20,480 + conv decoder 548,928              = 1,159,296
  dense     = 784*256 + 256*64 + 64*256 + 256*784                         =   434,176
  sparse    = dense                                                       =   434,176
  vae       = 784*400 + 400*40 + 20*400 + 400*784                         =   651,200
Activations, losses and the optimizer are not counted.

Timings are never asserted anywhere; the shared machines drift, and only ratios measured side
by side mean much. The load average before and after the run is recorded: a high one means
other work competed for the 2 cores.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import machine as machine_info  # noqa: E402  (tools/bench/machine.py: CPU and OpenBLAS kernels)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "build", "bench")
SNAP = os.path.join(OUT, "lib")
LIB_NAME = "libaecv.so.0.1.0"
PRESETS = ("conv", "conv_vae", "dense", "vae", "sparse", "denoising")
THREADS = (1, 2)


# ---------------------------------------------------------------------------------------------
# FLOPs

def conv_macs(c_in, c_out, h_out, w_out, k=3):
    return c_out * h_out * w_out * c_in * k * k


def convt_macs(c_in, c_out, h_in, w_in, k=3):
    return c_in * h_in * w_in * c_out * k * k


def conv_stack_macs():
    """Encoder 1->16->32->64 (28->14->7->4), mirrored decoder; returns (encoder, decoder)."""
    enc = conv_macs(1, 16, 14, 14) + conv_macs(16, 32, 7, 7) + conv_macs(32, 64, 4, 4)
    dec = convt_macs(64, 32, 4, 4) + convt_macs(32, 16, 7, 7) + convt_macs(16, 1, 14, 14)
    return enc, dec


def forward_macs(preset):
    enc, dec = conv_stack_macs()
    if preset in ("conv", "denoising"):
        return enc + dec
    if preset == "conv_vae":
        return enc + 1024 * 40 + 20 * 1024 + dec
    if preset in ("dense", "sparse"):
        return 784 * 256 + 256 * 64 + 64 * 256 + 256 * 784
    if preset == "vae":
        return 784 * 400 + 400 * 40 + 20 * 400 + 400 * 784
    raise ValueError(preset)


def train_flops_per_image(preset):
    return 3 * forward_macs(preset) * 2


assert forward_macs("conv") == 1_097_856 and forward_macs("conv_vae") == 1_159_296
assert forward_macs("dense") == 434_176 and forward_macs("vae") == 651_200


# ---------------------------------------------------------------------------------------------
# Running things

def log(msg):
    print(msg, flush=True)


def run(cmd, env=None, timeout=300, cwd=ROOT):
    """Runs a command; returns (rc, stdout, stderr). Never raises for a failing command."""
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        return -999, e.stdout or "", f"timeout after {timeout} s"
    except OSError as e:
        return -998, "", str(e)


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                pass
    return None


class Bench:
    def __init__(self, opts):
        self.opts = opts
        self.cc = os.environ.get("CC", "cc")
        self.torch_python = os.environ.get("TORCH_PYTHON", "/usr/bin/python3")
        self.torch = None          # version string when usable
        self.torch_reason = ""
        self.failures = []
        self.results = {"train": {}, "latency": {}, "rss": {}, "scaling": {}, "sgemm": {},
                        "gflops": {}, "malloc": {}, "vision": {}, "sizes": {}}

    # -- environment ---------------------------------------------------------------------------
    def ours_env(self, preload=None):
        env = dict(os.environ)
        env["LD_LIBRARY_PATH"] = SNAP + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
        # libaecv's thread setting is aecv_set_num_threads; keep OpenBLAS's env from interfering.
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
            env.pop(var, None)
        if preload:
            env["LD_PRELOAD"] = preload
        return env

    def build(self):
        os.makedirs(SNAP, exist_ok=True)
        src = os.path.join(ROOT, "build", "lib", LIB_NAME)
        if not os.path.exists(src):
            sys.exit(f"run_bench: {src} is missing; run `make lib` (or `make bench`) first")
        tmp = os.path.join(SNAP, "." + LIB_NAME + ".tmp")
        shutil.copy2(src, tmp)
        os.replace(tmp, os.path.join(SNAP, LIB_NAME))
        for link in ("libaecv.so.0", "libaecv.so"):
            path = os.path.join(SNAP, link)
            if os.path.lexists(path):
                os.remove(path)
            os.symlink(LIB_NAME, path)
        self.lib_snapshot = os.path.join(SNAP, LIB_NAME)
        cflags = ["-O2", "-Wall", "-Wextra", "-std=gnu11"]
        steps = [
            [self.cc, *cflags, "-Iinclude", "-Iexamples", "tools/bench/bench_train.c",
             "-o", os.path.join(OUT, "bench_train"), "-L" + SNAP, "-laecv", "-lz", "-lm", "-ldl"],
            [self.cc, *cflags, "-shared", "-fPIC", "tools/bench/malloc_count.c",
             "-o", os.path.join(OUT, "malloc_count.so")],
            [self.cc, *cflags, "tools/bench/sgemm_ceiling.c", "-o", os.path.join(OUT, "sgemm_ceiling"),
             "-lopenblas"],
        ]
        for cmd in steps:
            log("  " + " ".join(cmd))
            rc, out, err = run(cmd)
            if rc != 0:
                sys.exit(f"run_bench: build failed:\n{out}{err}")

    def detect_torch(self):
        if self.opts.no_torch:
            self.torch_reason = "--no-torch given"
            return
        rc, out, err = run([self.torch_python, "-c", "import torch; print(torch.__version__)"], timeout=120)
        if rc == 0:
            self.torch = out.strip()
        else:
            self.torch_reason = f"{self.torch_python} cannot import torch ({(err.strip().splitlines() or ['?'])[-1]})"
            bar = "#" * 96
            log(f"{bar}\n#### PyTorch side SKIPPED: {self.torch_reason}.\n"
                f"#### Install Debian's python3-torch (apt-get install python3-torch) or set TORCH_PYTHON.\n"
                f"#### Only libaecv's numbers are reported; no ratio can be computed.\n{bar}")

    def machine(self):
        info = {"date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")}
        cpu = machine_info.cpu_info()
        info["cpu"] = machine_info.cpu_summary(cpu)
        info["cpus"] = cpu["cpus"]
        info["openblas_kernels"] = machine_info.openblas_core()
        rc, out, _ = run(["git", "rev-parse", "--short", "HEAD"])
        info["commit"] = out.strip() if rc == 0 else "unknown"
        rc, out, _ = run(["git", "status", "--porcelain", "--untracked-files=no", "--", "Sources"])
        info["sources_dirty"] = bool(out.strip()) if rc == 0 else None
        rc, out, _ = run(["sh", "-c", "readlink -f $(ldconfig -p | awk '/libopenblas.so.0 /{print $NF; exit}')"])
        info["openblas"] = out.strip() or "unknown"
        info["torch"] = self.torch or f"skipped: {self.torch_reason}"
        return info

    # -- the two sides ---------------------------------------------------------------------------
    def ours(self, *args, preload=None, timeout=300):
        cmd = [os.path.join(OUT, "bench_train"), *map(str, args), "--json"]
        rc, out, err = run(cmd, env=self.ours_env(preload), timeout=timeout)
        res = last_json(out)
        if rc != 0 or res is None:
            why = f"rc {rc}" + (" (crashed: signal %d)" % -rc if rc < 0 and rc > -900 else "")
            msg = f"libaecv {' '.join(map(str, args))}: FAILED, {why}: {err.strip()[-400:]}"
            log("  " + msg)
            self.failures.append(msg)
            return {"error": why, "stderr": err[-2000:]}
        res["stderr"] = err
        return res

    def theirs(self, *args, timeout=300):
        if not self.torch:
            return {"error": "skipped"}
        cmd = [self.torch_python, "tools/bench_torch.py", *map(str, args), "--json"]
        rc, out, err = run(cmd, timeout=timeout)
        res = last_json(out)
        if rc != 0 or res is None:
            msg = f"pytorch {' '.join(map(str, args))}: FAILED, rc {rc}: {err.strip()[-400:]}"
            log("  " + msg)
            self.failures.append(msg)
            return {"error": f"rc {rc}"}
        return res

    # -- sections --------------------------------------------------------------------------------
    def section_train(self):
        o = self.opts
        log(f"== training throughput, batch 64, {o.repeats} x {o.seconds} s windows, threads 1 and 2")
        for preset in PRESETS:
            for t in THREADS:
                common = ["--batch", 64, "--threads", t, "--seconds", o.seconds, "--repeats", o.repeats]
                a = self.ours("--preset", preset, *common)
                a.pop("stderr", None)
                b = self.theirs("--model", preset, *common)
                self.results["train"].setdefault(preset, {})[str(t)] = {"libaecv": a, "pytorch": b}
                log(f"  {preset:10s} {t}t  libaecv {fmt_ips(a)}  pytorch {fmt_ips(b)}")

    def section_latency(self):
        o = self.opts
        log("== latency of one image (encode, reconstruct), 1 thread")
        for preset in ("conv", "dense", "vae", "conv_vae"):
            common = ["--threads", 1, "--seconds", o.latency_seconds, "--repeats", 3, "--limit", 1000]
            a = self.ours("--latency", "--preset", preset, *common)
            a.pop("stderr", None)
            b = self.theirs("--latency", "--model", preset, *common)
            self.results["latency"][preset] = {"libaecv": a, "pytorch": b}
            log(f"  {preset:10s} encode {fmt_us(a, 'encode')} vs {fmt_us(b, 'encode')}, "
                f"reconstruct {fmt_us(a, 'reconstruct')} vs {fmt_us(b, 'reconstruct')}")

    def section_rss(self):
        log("== peak RSS, one epoch of conv training over 60,000 images, batch 64, 1 thread")
        a = self.ours("--full-epoch-rss", "--preset", "conv", "--batch", 64, "--threads", 1)
        a.pop("stderr", None)
        b = self.theirs("--full-epoch-rss", "--model", "conv", "--batch", 64, "--threads", 1)
        c = self.theirs("--full-epoch-rss", "--model", "conv", "--batch", 64, "--threads", 1,
                        "--loader", "whole")
        self.results["rss"] = {"libaecv": a, "pytorch": b, "pytorch_whole_file_loader": c}
        log(f"  libaecv {fmt_mb(a)}, pytorch {fmt_mb(b)} (whole-file loader {fmt_mb(c)})")

    def section_scaling(self):
        o = self.opts
        log(f"== scaling: batch 1, 8, 64, 256 x threads 1, 2 (batch 64 from the training section)")
        for preset in ("conv", "dense"):
            for batch in (1, 8, 64, 256):
                for t in THREADS:
                    key = f"{preset}/{batch}/{t}"
                    if batch == 64 and preset in self.results["train"]:
                        self.results["scaling"][key] = {
                            "libaecv": self.results["train"][preset][str(t)]["libaecv"],
                            "pytorch": self.results["train"][preset][str(t)]["pytorch"] if t == 1 else None}
                        continue
                    common = ["--batch", batch, "--threads", t, "--seconds", o.scaling_seconds,
                              "--repeats", 3 if batch == 256 else 1]
                    a = self.ours("--preset", preset, *common)
                    a.pop("stderr", None)
                    b = self.theirs("--model", preset, *common) if t == 1 else None
                    self.results["scaling"][key] = {"libaecv": a, "pytorch": b}
                    log(f"  {preset:6s} batch {batch:3d} {t}t  libaecv {fmt_ips(a)}"
                        + (f"  pytorch {fmt_ips(b)}" if b else ""))

    def section_gflops(self):
        o = self.opts
        log("== OpenBLAS sgemm 1024^3 ceiling, 1 and 2 threads; dense AE at batch 256")
        for t in THREADS:
            cmd = [os.path.join(OUT, "sgemm_ceiling"), "--threads", str(t), "--seconds",
                   str(o.sgemm_seconds), "--repeats", "3", "--json"]
            rc, out, err = run(cmd, env=self.ours_env())
            res = last_json(out) if rc == 0 else None
            if res is None:
                self.failures.append(f"sgemm_ceiling {t}t: FAILED rc {rc}: {err[-300:]}")
                res = {"error": f"rc {rc}"}
            self.results["sgemm"][str(t)] = res
            log(f"  sgemm {t}t: {res.get('gflops', 'FAILED')} GFLOP/s")
        for t in THREADS:
            key = f"dense/256/{t}"
            run_ = self.results["scaling"].get(key, {}).get("libaecv")
            if not run_:
                run_ = self.ours("--preset", "dense", "--batch", 256, "--threads", t, "--seconds",
                                 o.scaling_seconds, "--repeats", 3)
                run_.pop("stderr", None)
                self.results["scaling"][key] = {"libaecv": run_, "pytorch": None}
            ips = run_.get("images_per_second")
            g = ips * train_flops_per_image("dense") / 1e9 if ips else None
            ceil = self.results["sgemm"][str(t)].get("gflops")
            self.results["gflops"][str(t)] = {"images_per_second": ips, "gflops": g, "ceiling": ceil,
                                              "fraction": g / ceil if g and ceil else None}
            log(f"  dense b256 {t}t: {fmt_num(g, 1)} GFLOP/s of {fmt_num(ceil, 1)}")

    def bench_vision(self, args, env, timeout):
        """tools/bench_vision.py ARGS --json: its JSON result, or None (the failure recorded)."""
        rc, out, err = run([str(c) for c in [sys.executable, "tools/bench_vision.py", *args, "--json"]],
                           env=env, timeout=timeout)
        res = last_json(out)
        if rc != 0 or res is None:
            msg = f"bench_vision {' '.join(str(a) for a in args)}: FAILED, rc {rc}: {err.strip()[-400:]}"
            log("  " + msg)
            self.failures.append(msg)
            return None
        return res

    def section_vision(self):
        o = self.opts
        log(f"== vision layers: conv AE + BatchNorm + max_pool + nearest upsample, batch 32, threads 1 and 2")
        env = self.ours_env()
        env["AECV_LIBRARY"] = os.path.join(SNAP, LIB_NAME)   # the snapshot, as for bench_train
        for shape in ("1,28,28", "3,64,64"):
            res = self.bench_vision(["--input", shape, "--seconds", o.seconds, "--repeats", o.repeats], env, 900)
            if res is None:
                continue
            self.results["vision"][shape] = res
            for t, r in res["results"].items():
                cells = ", ".join(f"{k} {v:.0f}" for k, v in r.items())
                log(f"  {shape:8s} {t}t  {cells}")

    def section_sizes(self):
        o = self.opts
        log("== image sizes: the seed conv AE, batch 32, 1x28x28 to 3x256x256, threads 1 and 2")
        if "1" not in self.results["sgemm"]:
            cmd = [os.path.join(OUT, "sgemm_ceiling"), "--threads", "1", "--seconds", str(o.sgemm_seconds),
                   "--repeats", "3", "--json"]
            rc, out, err = run(cmd, env=self.ours_env())
            self.results["sgemm"]["1"] = (last_json(out) if rc == 0 else None) or {"error": f"rc {rc}"}
        ceiling = self.results["sgemm"]["1"].get("gflops")
        env = self.ours_env()
        env["AECV_LIBRARY"] = os.path.join(SNAP, LIB_NAME)
        for shape in ("1,28,28", "3,64,64", "3,128,128", "3,256,256"):
            res = self.bench_vision(["--model", "seed", "--input", shape, "--seconds", o.seconds,
                                     "--repeats", max(1, o.repeats - 1)], env, 1200)
            if res is None:
                continue
            one = res["results"].get("1", {}).get("libaecv")
            res["gflops_1t"] = one * res["train_gflop_per_image"] if one else None
            res["ceiling_1t"] = ceiling
            self.results["sizes"][shape] = res
            best = {k: max(r[k] for r in res["results"].values() if k in r)
                    for k in ("libaecv", "torch 1.13", "torch 2.x") if any(k in r for r in res["results"].values())}
            log(f"  {shape:9s} " + ", ".join(f"{k} {v:.0f}" for k, v in best.items())
                + (f"; libaecv 1t {res['gflops_1t']:.1f} GFLOP/s" if res["gflops_1t"] else ""))

    def section_malloc(self):
        log("== heap allocations per call (LD_PRELOAD malloc counter), steps 2..50")
        shim = os.path.join(OUT, "malloc_count.so")
        runs = [(p, 1) for p in PRESETS] + [("conv", 2), ("dense", 2)]
        for preset, t in runs:
            a = self.ours("--malloc-count", 50, "--preset", preset, "--batch", 64, "--threads", t,
                          "--limit", 4000, preload=shim)
            if "error" not in a:
                a["sites"] = allocation_sites(a.pop("stderr", ""), self.lib_snapshot)
            self.results["malloc"][f"{preset}/{t}"] = a
            rest = a.get("train_step_rest", {})
            log(f"  {preset:10s} {t}t  train_step 2..50: {rest.get('total', 'FAILED')} allocation call(s)"
                f" (first call {a.get('train_step_first', {}).get('total', '?')})")


# ---------------------------------------------------------------------------------------------
# Resolving allocation sites

def find_swift_demangle():
    for cand in (shutil.which("swift-demangle"), shutil.which("swift")):
        if cand:
            return [cand] if cand.endswith("demangle") else [cand, "demangle"]
    if os.path.exists("/opt/swift/usr/bin/swift-demangle"):
        return ["/opt/swift/usr/bin/swift-demangle"]
    return None


def symbolize(lib, offsets):
    """{offset: [(function, file:line) innermost first]} for return addresses in lib."""
    if not offsets or not shutil.which("addr2line"):
        return {}
    addrs = [hex(o - 1) for o in offsets]   # a return address points after the call
    rc, out, _ = run(["addr2line", "-a", "-f", "-i", "-C", "-e", lib, *addrs], timeout=120)
    if rc != 0:
        return {}
    dem = find_swift_demangle()
    if dem:
        rc2, out2, _ = (lambda p: (p.returncode, p.stdout, p.stderr))(
            subprocess.run([*dem, "--simplified"], input=out, capture_output=True, text=True))
        if rc2 == 0 and out2.count("\n") == out.count("\n"):
            out = out2
    table, cur, lines = {}, None, out.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if re.fullmatch(r"0x[0-9a-f]+", line.strip()):
            cur = int(line.strip(), 16) + 1
            table[cur] = []
            i += 1
            continue
        if cur is not None and i + 1 < len(lines):
            table[cur].append((line.strip(), lines[i + 1].strip()))
            i += 2
        else:
            i += 1
    return table


def allocation_sites(report, lib):
    """Parses malloc_count_report text into stacks; resolves libaecv frames to source sites."""
    stacks, cur, section = [], None, None
    for line in report.splitlines():
        if line.startswith("---- "):
            section = line[5:].rstrip(":")
            continue
        m = re.match(r"\s+stack \d+: (\d+) x (\w+), (\d+) bytes(.*)", line)
        if m:
            cur = {"section": section, "calls": int(m.group(1)), "kind": m.group(2),
                   "bytes": int(m.group(3)), "other_thread": "another thread" in m.group(4), "frames": []}
            stacks.append(cur)
            continue
        m = re.match(r"\s+#\d+ (\S+?)\+0x([0-9a-f]+)(?: (\S+))?", line)
        if m and cur is not None:
            cur["frames"].append({"object": m.group(1), "offset": int(m.group(2), 16), "symbol": m.group(3)})
    offsets = sorted({f["offset"] for s in stacks for f in s["frames"] if f["object"].startswith("libaecv")})
    table = symbolize(lib, offsets)
    for s in stacks:
        first = s["frames"][0]["object"] if s["frames"] else "?"
        s["origin"] = ("OpenBLAS" if "openblas" in first else "libaecv" if first.startswith("libaecv")
                       else first)
        # The innermost frames in libaecv's own sources (not the Swift runtime or a specialized
        # stdlib generic), up to 4 of them; for OpenBLAS's allocations, its exported functions.
        where, blas = [], []
        for f in s["frames"]:
            if f["object"].startswith("libaecv"):
                for func, loc in table.get(f["offset"], []):
                    if "/Sources/" in loc and len(where) < 4:
                        short = loc.split("/Sources/", 1)[1]
                        entry = f"{func} ({short})"
                        if entry not in where:
                            where.append(entry)
            elif f["object"].startswith("libopenblas") and f["symbol"]:
                blas.append(f["symbol"].split("+")[0])
        if s["origin"] == "OpenBLAS":
            s["site"] = "OpenBLAS " + " <- ".join(blas or ["?"])
            s["called_from"] = where[0] if where else "?"
        else:
            s["site"] = " <- ".join(where) if where else " <- ".join(
                f"{f['object']}+{f['offset']:#x}" for f in s["frames"][:4])
        del s["frames"]
    return stacks


# ---------------------------------------------------------------------------------------------
# Formatting

def fmt_num(x, digits=0):
    if x is None:
        return "-"
    return f"{x:,.{digits}f}"


def fmt_ips(r):
    if not r:
        return "-"
    if "error" in r:
        return "skipped" if r["error"] == "skipped" else "FAILED"
    return fmt_num(r.get("images_per_second"))


def fmt_us(r, which):
    if not r or "error" in r:
        return "skipped" if r and r.get("error") == "skipped" else "FAILED"
    return f"{r.get(which + '_latency_us', 0):.1f} µs"


def fmt_mb(r):
    if not r or "error" in r:
        return "skipped" if r and r.get("error") == "skipped" else "FAILED"
    return f"{r['peak_rss_kb'] / 1024:.1f} MiB"


def ips(r):
    return r.get("images_per_second") if r and "error" not in r else None


def best(runs, side):
    """(images/s, threads) of the best thread setting of one side."""
    cands = [(ips(v[side]), int(t)) for t, v in runs.items() if ips(v[side])]
    return max(cands) if cands else (None, None)


def status(ok):
    return "-" if ok is None else ("met" if ok else "NOT met")


def summarize(b):
    """The targets table: a list of dict rows."""
    R, rows = b.results, []
    train = R["train"]
    goal = {"conv": 2.0, "conv_vae": 2.0, "dense": 1.5, "vae": 1.5}
    for preset in PRESETS:
        if preset not in train:
            continue
        (a, ta), (p, tp) = best(train[preset], "libaecv"), best(train[preset], "pytorch")
        ratio = a / p if a and p else None
        row = {"workload": f"train {preset} b64, img/s",
               "libaecv": f"{fmt_num(a)} ({ta}t)" if a else "FAILED",
               "pytorch": f"{fmt_num(p)} ({tp}t)" if p else ("skipped" if not b.torch else "FAILED"),
               "ratio": f"{ratio:.2f}x" if ratio else "-"}
        if preset in goal:
            row["target"] = f">= {goal[preset]}x"
            ok = ratio >= goal[preset] if ratio else None
            if preset == "dense":
                row["target"] += " and > 38,000"
                ok = (ok if ok is not None else True) and (a or 0) > 38000 if a else None
            row["status"] = status(ok)
        else:
            ref = "dense" if preset == "sparse" else "conv"
            r_ref = best(train.get(ref, {}), "libaecv")[0] if ref in train else None
            rel = a / r_ref if a and r_ref else None
            row["target"] = f"no slower than {ref} (>= 0.95x of libaecv {ref})"
            row["status"] = status(rel >= 0.95 if rel else None) + (f" ({rel:.2f}x {ref})" if rel else "")
        rows.append(row)
    for preset, lat in R["latency"].items():
        for which in ("encode", "reconstruct"):
            a = lat["libaecv"].get(f"{which}_latency_us") if "error" not in lat["libaecv"] else None
            p = lat["pytorch"].get(f"{which}_latency_us") if "error" not in lat["pytorch"] else None
            ratio = a / p if a and p else None
            rows.append({"workload": f"{which} {preset}, µs",
                         "libaecv": f"{a:.1f}" if a else "FAILED",
                         "pytorch": f"{p:.1f}" if p else "skipped" if not b.torch else "FAILED",
                         "ratio": f"{ratio:.2f}x" if ratio else "-", "target": "<= 0.2x",
                         "status": status(ratio <= 0.2 if ratio else None)})
    rss = R["rss"]
    if rss:
        a = rss["libaecv"].get("peak_rss_kb") if "error" not in rss["libaecv"] else None
        for key, label in (("pytorch", "same loader"),
                           ("pytorch_whole_file_loader", "torch whole-file loader")):
            r = rss.get(key, {})
            p = r.get("peak_rss_kb") if r and "error" not in r else None
            ratio = a / p if a and p else None
            rows.append({"workload": f"peak RSS MiB, conv epoch ({label})",
                         "libaecv": f"{a / 1024:.1f}" if a else "FAILED",
                         "pytorch": f"{p / 1024:.1f}" if p else "skipped" if not b.torch else "FAILED",
                         "ratio": f"{ratio:.2f}x" if ratio else "-",
                         "target": "<= 0.4x" if key == "pytorch" else "(reference)",
                         "status": status(ratio <= 0.4 if ratio else None) if key == "pytorch" else "-"})
    if "conv" in train:
        a1, a2 = ips(train["conv"]["1"]["libaecv"]), ips(train["conv"]["2"]["libaecv"])
        p1, p2 = ips(train["conv"]["1"]["pytorch"]), ips(train["conv"]["2"]["pytorch"])
        s = a2 / a1 if a1 and a2 else None
        rows.append({"workload": "2-thread speedup, train conv b64",
                     "libaecv": f"{s:.2f}x" if s else "FAILED",
                     "pytorch": (f"{p2 / p1:.2f}x" if p2 / p1 >= 0.1 else f"{p2 / p1:.3f}x")
                     if p1 and p2 else "-",
                     "ratio": "-", "target": ">= 1.6x", "status": status(s >= 1.6 if s else None)})
    if R["gflops"]:
        cands = [(v["images_per_second"], t, v) for t, v in R["gflops"].items() if v.get("images_per_second")]
        if cands:
            _, t, v = max(cands)
            frac = v.get("fraction")
            rows.append({"workload": f"GFLOP/s, train dense b256 ({t}t)",
                         "libaecv": fmt_num(v.get("gflops"), 1),
                         "pytorch": f"sgemm {fmt_num(v.get('ceiling'), 1)}",
                         "ratio": f"{frac:.0%}" if frac else "-", "target": ">= 60% of sgemm",
                         "status": status(frac >= 0.6 if frac else None)})
    if R["malloc"]:
        counts = {k: v.get("train_step_rest", {}).get("total") for k, v in R["malloc"].items()}
        known = {k: c for k, c in counts.items() if c is not None}
        ok = all(c == 0 for c in known.values()) if known and len(known) == len(counts) else None
        per_step = ", ".join(f"{k.split('/')[0]} {c / 49:.0f}" for k, c in known.items() if k.endswith("/1"))
        rows.append({"workload": "heap allocs per train_step, 1t",
                     "libaecv": per_step or "FAILED", "pytorch": "-", "ratio": "-", "target": "0",
                     "status": status(ok)})
    return rows


def table(rows, cols):
    widths = {c: max([len(c)] + [len(str(r.get(c, ""))) for r in rows]) for c in cols}   # rows may be empty (--only)
    line = " | ".join(c.ljust(widths[c]) for c in cols)
    out = [line, "-+-".join("-" * widths[c] for c in cols)]
    for r in rows:
        out.append(" | ".join(str(r.get(c, "")).ljust(widths[c]) for c in cols))
    return "\n".join(out)


def md_table(rows, cols):
    out = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(r.get(c, "")).replace("|", "\\|") for c in cols) + " |")
    return "\n".join(out)


def detail_rows(b):
    """Threads table, scaling table, malloc sites."""
    R = b.results
    threads = []
    for preset, runs in R["train"].items():
        row = {"workload": f"train {preset}, b64"}
        for t in THREADS:
            v = runs.get(str(t), {})
            row[f"libaecv {t}t"] = fmt_ips(v.get("libaecv"))
            row[f"PyTorch {t}t"] = fmt_ips(v.get("pytorch"))
        a = best(runs, "libaecv")[0]
        row["GFLOP/s (libaecv best)"] = fmt_num(a * train_flops_per_image(preset) / 1e9, 1) if a else "-"
        row["MACs/image"] = fmt_num(forward_macs(preset))
        threads.append(row)
    scaling = []
    for preset in ("conv", "dense"):
        for batch in (1, 8, 64, 256):
            row = {"workload": f"{preset}", "batch": batch}
            for t in THREADS:
                v = R["scaling"].get(f"{preset}/{batch}/{t}")
                row[f"libaecv {t}t"] = fmt_ips(v["libaecv"]) if v else "-"
            a1 = ips((R["scaling"].get(f"{preset}/{batch}/1") or {}).get("libaecv"))
            a2 = ips((R["scaling"].get(f"{preset}/{batch}/2") or {}).get("libaecv"))
            row["2t/1t"] = f"{a2 / a1:.2f}x" if a1 and a2 else "-"
            v = R["scaling"].get(f"{preset}/{batch}/1")
            row["PyTorch 1t"] = fmt_ips(v.get("pytorch")) if v and v.get("pytorch") else "-"
            p1 = ips(v.get("pytorch")) if v and v.get("pytorch") else None
            row["ratio 1t"] = f"{a1 / p1:.2f}x" if a1 and p1 else "-"
            if batch != 1:
                row["workload"] = ""
            scaling.append(row)
    mallocs = []
    for key, v in R["malloc"].items():
        preset, t = key.split("/")
        if "error" in v:
            mallocs.append({"run": f"{preset} {t}t", "first call": "FAILED"})
            continue
        first, rest = v.get("train_step_first", {}), v.get("train_step_rest", {})
        enc, rec = v.get("encode_rest", {}), v.get("reconstruct_rest", {})
        by_origin = {}
        for s in v.get("sites", []):
            if s["section"] and s["section"].startswith("callers of the allocations in train steps"):
                by_origin[s["origin"]] = by_origin.get(s["origin"], 0) + s["calls"]
        mallocs.append({"run": f"{preset} {t}t",
                        "train_step 1st": f"{first.get('total')} ({first.get('bytes', 0) / 1048576:.1f} MiB)",
                        "train_step 2..50": f"{rest.get('total')} ({rest.get('bytes', 0) / 1048576:.1f} MiB)",
                        "per step": f"{rest.get('total', 0) / 49:.1f}",
                        "by origin (2..50)": ", ".join(f"{k} {c}" for k, c in by_origin.items()) or "-",
                        "encode 2..50": enc.get("total"), "reconstruct 2..50": rec.get("total")})
    return threads, scaling, mallocs


def top_sites(b, limit=12):
    """The distinct allocation sites of train steps 2..N, merged over runs."""
    merged = {}
    for key, v in b.results["malloc"].items():
        for s in v.get("sites", []):
            if not (s["section"] or "").startswith("callers of the allocations in train steps"):
                continue
            k = (s["origin"], s["site"])
            m = merged.setdefault(k, {"calls_per_step": {}, "bytes": 0})
            m["calls_per_step"][key] = m["calls_per_step"].get(key, 0) + s["calls"] / 49
            m["bytes"] = max(m["bytes"], s["bytes"] // max(s["calls"], 1))
    # OpenBLAS's first (it cannot be fixed by editing libaecv, only avoided), then by calls.
    items = sorted(merged.items(), key=lambda kv: (kv[0][0] != "OpenBLAS",
                                                   -sum(kv[1]["calls_per_step"].values())))
    out = []
    for (origin, site), m in items[:limit]:
        runs = ", ".join(f"{k.replace('/1', '').replace('/2', ' 2t')} {c:.0f}/step"
                         for k, c in m["calls_per_step"].items())
        out.append(f"[{origin}] {m['bytes']} B each; {runs}\n      {site}")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="window of the batch-64 training runs")
    ap.add_argument("--repeats", type=int, default=3, help="windows per training run (median)")
    ap.add_argument("--quick", action="store_true", help="1 s windows, 1 repeat: a smoke test")
    ap.add_argument("--no-torch", action="store_true", help="libaecv only")
    ap.add_argument("--build-only", action="store_true",
                    help="snapshot the library and build the programs, then stop (profile.sh)")
    ap.add_argument("--only", default="train,latency,rss,scaling,gflops,malloc,vision,sizes",
                    help="comma-separated sections")
    opts = ap.parse_args()
    opts.latency_seconds, opts.scaling_seconds, opts.sgemm_seconds = 0.7, 2.0, 1.5
    if opts.quick:
        opts.seconds, opts.repeats = 1.0, 1
        opts.latency_seconds, opts.scaling_seconds, opts.sgemm_seconds = 0.3, 0.5, 0.5
    sections = [s.strip() for s in opts.only.split(",") if s.strip()]
    t0 = time.monotonic()
    b = Bench(opts)
    log("== building the benchmark programs against a snapshot of build/lib")
    b.build()
    if opts.build_only:
        return 0
    b.detect_torch()
    machine = b.machine()
    load_before = os.getloadavg()
    log(f"   {machine['date']}; {machine['cpu']}, {machine['cpus']} CPU(s); libaecv {machine['commit']}"
        f"{' + uncommitted Sources changes' if machine['sources_dirty'] else ''}; torch {machine['torch']}; "
        f"load average {load_before[0]:.2f}")
    timings = {}
    if load_before[0] > 0.8 * (machine["cpus"] or 2) / 2:
        log(f"   WARNING: load average {load_before[0]:.2f} before the run: other processes compete "
            "for the cores; absolute numbers will be low and noisy (the ratios less so)")
    for name in ("train", "latency", "rss", "scaling", "gflops", "malloc", "vision", "sizes"):
        if name in sections:
            start = time.monotonic()
            getattr(b, "section_" + name)()
            timings[name] = round(time.monotonic() - start, 1)
            log(f"   ({name}: {timings[name]:.0f} s)")
    load_after = os.getloadavg()
    elapsed = time.monotonic() - t0
    machine.update({"load_before": load_before[0], "load_after": load_after[0], "elapsed_s": round(elapsed, 1),
                    "section_seconds": timings})

    rows = summarize(b)
    threads, scaling, mallocs = detail_rows(b)
    sites = top_sites(b)
    cols = ["workload", "libaecv", "pytorch", "ratio", "target", "status"]
    head = (f"libaecv benchmark, {machine['date']}, {machine['cpu']} ({machine['cpus']} CPUs), "
            f"libaecv {machine['commit']}{' (+ uncommitted Sources)' if machine['sources_dirty'] else ''}, "
            f"PyTorch {machine['torch']}, OpenBLAS {os.path.basename(machine['openblas'])} "
            f"with {machine['openblas_kernels']} kernels; "
            f"load average {load_before[0]:.2f} -> {load_after[0]:.2f}; {elapsed:.0f} s")
    notes = [
        "Ratios are libaecv / PyTorch (throughput: higher is better; latency, RSS: lower is better).",
        f"Training: median of {opts.repeats} window(s) of {opts.seconds:g} s after 20 warm-up steps; "
        "each side at its best of 1 and 2 threads; Adam lr 1e-3; shuffled batches gathered from the "
        "in-memory float32 training set; both sides run alternately.",
        "GFLOP/s = images/s x 3 x forward MACs x 2 (MACs per image in tools/bench/run_bench.py).",
        "Latency: batch 1, 1 thread, median of 3 windows. RSS: ru_maxrss after one epoch at batch 64, "
        "1 thread; data 60000x784 float32 = 179.4 MiB on both sides.",
        "sparse/denoising: 'no slower' allows 5% for measurement noise.",
    ]
    if not b.torch:
        notes.insert(0, f"PyTorch side SKIPPED: {b.torch_reason}.")
    text = [head, "", table(rows, cols), "",
            "Training throughput by thread count (images/s, batch 64):",
            table(threads, list(threads[0].keys())) if threads else "(not run)", "",
            "Scaling (images/s; PyTorch at 1 thread, its best here):",
            table(scaling, ["workload", "batch", "libaecv 1t", "libaecv 2t", "2t/1t", "PyTorch 1t", "ratio 1t"])
            if R_has(b, "scaling") else "(not run)", "",
            "Heap allocation calls (LD_PRELOAD shim; steps 2..50 should be 0):",
            table(mallocs, list(mallocs[0].keys())) if mallocs else "(not run)"]
    if sites:
        text += ["", "Allocation sites in train steps 2..50 (calls per step):"] + ["  " + s for s in sites]
    if b.results["sgemm"]:
        text += ["", "OpenBLAS sgemm 1024^3 ceiling: " + ", ".join(
            f"{t}t {v.get('gflops', 'FAILED')} GFLOP/s" for t, v in b.results["sgemm"].items())
            + "; dense b256 achieved: " + ", ".join(
            f"{t}t {fmt_num(v.get('gflops'), 1)} GFLOP/s ({v['fraction']:.0%})" if v.get("fraction") else f"{t}t -"
            for t, v in b.results["gflops"].items())]
    if R_has(b, "vision"):
        text += ["", "Vision layers (conv AE + BatchNorm + max_pool + nearest upsample, batch 32; images/s):"] + vision_rows(b)
    if R_has(b, "sizes"):
        text += ["", "Image sizes (the seed conv AE, batch 32; images/s, best of 1 and 2 threads):"] + size_rows(b)
    text += [""] + ["Note: " + n for n in notes]
    if b.failures:
        text += ["", "FAILURES:"] + ["  " + f for f in b.failures]
    log("\n" + "\n".join(text))

    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump({"machine": machine, "options": vars(opts), "targets": rows,
                   "flops_per_image": {p: train_flops_per_image(p) for p in PRESETS},
                   "forward_macs": {p: forward_macs(p) for p in PRESETS},
                   "results": b.results, "failures": b.failures}, f, indent=1)
    md = [f"## Performance ({machine['date']})", "",
          f"Machine: {machine['cpu']}, {machine['cpus']} CPUs; libaecv {machine['commit']}"
          f"{' (+ uncommitted Sources)' if machine['sources_dirty'] else ''}; PyTorch {machine['torch']}; "
          f"OpenBLAS {os.path.basename(machine['openblas'])} with {machine['openblas_kernels']} kernels; "
          f"load average {load_before[0]:.2f} -> "
          f"{load_after[0]:.2f}. Produced by `make bench` in {elapsed:.0f} s.", "",
          md_table(rows, cols), ""]
    if threads:
        md += ["Training throughput by thread count (images/s, batch 64):", "",
               md_table(threads, list(threads[0].keys())), ""]
    if R_has(b, "scaling"):
        md += ["Scaling (images/s):", "",
               md_table(scaling, ["workload", "batch", "libaecv 1t", "libaecv 2t", "2t/1t", "PyTorch 1t", "ratio 1t"]), ""]
    if R_has(b, "vision"):
        md += ["Vision layers (conv AE + BatchNorm + max_pool + nearest upsample, batch 32; images/s, "
               "tools/bench_vision.py):", ""] + vision_rows(b) + [""]
    if R_has(b, "sizes"):
        md += ["Image sizes (the seed conv AE, batch 32; images/s, best of 1 and 2 threads; "
               "tools/bench_vision.py --model seed):", ""] + size_rows(b) + [""]
    if mallocs:
        md += ["Heap allocation calls per train_step (LD_PRELOAD counter):", "",
               md_table(mallocs, list(mallocs[0].keys())), ""]
    if sites:
        md += ["Allocation sites in train steps 2..50:", ""] + \
              ["- " + s.replace("\n      ", ": ") for s in sites] + [""]
    md += ["- " + n for n in notes]
    if b.failures:
        md += ["", "Failures:", ""] + ["- " + f.replace("\n", " ") for f in b.failures]
    with open(os.path.join(OUT, "results.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    log(f"\nwrote {os.path.relpath(os.path.join(OUT, 'results.json'), ROOT)} and "
        f"{os.path.relpath(os.path.join(OUT, 'results.md'), ROOT)}")
    return 0


def vision_rows(b):
    """Markdown rows: input, threads, each side's images/s, libaecv / each PyTorch."""
    rows = ["| input | threads | libaecv | torch 1.13 | torch 2.x | vs 1.13 | vs 2.x |", "|---|---|---|---|---|---|---|"]
    for shape, res in b.results["vision"].items():
        for t, r in res["results"].items():
            ours = r.get("libaecv")
            cells = [f"{r[k]:.0f}" if k in r else "-" for k in ("libaecv", "torch 1.13", "torch 2.x")]
            ratios = [f"{ours / r[k]:.2f}x" if ours and k in r else "-" for k in ("torch 1.13", "torch 2.x")]
            rows.append(f"| {shape.replace(',', 'x')} | {t} | " + " | ".join(cells + ratios) + " |")
    return rows


def size_rows(b):
    """Markdown rows: input, training FLOPs per image, each side's best images/s, the ratios,
    libaecv's GFLOP/s at 1 thread and its fraction of the 1-thread sgemm ceiling."""
    rows = ["| input | MFLOP/image | libaecv | torch 1.13 | torch 2.x | vs 1.13 | vs 2.x | libaecv 1t GFLOP/s | of sgemm 1t |",
            "|---|---|---|---|---|---|---|---|---|"]
    for shape, res in b.results["sizes"].items():
        runs = res["results"].values()
        best = {k: max(r[k] for r in runs if k in r) for k in ("libaecv", "torch 1.13", "torch 2.x")
                if any(k in r for r in runs)}
        ours = best.get("libaecv")
        cells = [f"{best[k]:.0f}" if k in best else "-" for k in ("libaecv", "torch 1.13", "torch 2.x")]
        ratios = [f"{ours / best[k]:.2f}x" if ours and k in best else "-" for k in ("torch 1.13", "torch 2.x")]
        g, c = res.get("gflops_1t"), res.get("ceiling_1t")
        tail = f" | {g:.1f} | {g / c:.0%} |" if g and c else " | - | - |"
        rows.append(f"| {shape.replace(',', 'x')} | {res['train_gflop_per_image'] * 1e3:.1f} | "
                    + " | ".join(cells + ratios) + tail)
    return rows


def R_has(b, key):
    return bool(b.results.get(key))


if __name__ == "__main__":
    sys.exit(main())
