#!/usr/bin/python3
"""Runs pcipass's benchmarks (issue 8) and writes docs/benchmarks.md.

scripts/bench.sh builds everything and calls this; run by hand:

    bench/run.py --build BUILD --trees TREES --out docs/benchmarks.md [--quick]

BUILD holds pcipass and bench/pcipass-bench-floor, TREES the simulated hosts
bench.sh generated (server-16, server-32, server, lab-256, lab-512,
lab-1024, lab-66-nvme). Every number is the wall time of whole processes, measured by
bench/measure.cpp (fork, exec, wait4: the peak RSS is the figure
/usr/bin/time -f %M prints); a multi-process baseline is timed as a whole, and
its RSS is that of its largest process. Each measurement runs once untimed (warm-up), then RUNS
times; the table shows medians. Baselines that start one process per device
(hundreds of virsh runs, each itself a sample) warm up with one virsh process
and run SLOW_RUNS times.

Against the real libvirtd it only lists node devices (read-only) and defines
throwaway domains named pcipass-bench-PID-N that are never started and are
undefined at the end, whatever happens. Devices are those of the simulated
trees; nothing on this machine is bound or reset.
"""

import argparse
import atexit
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

QEMU = "qemu:///system"
GUESTS_FULL = 64
DEVICES_PER_GUEST = 4


def fail(message):
    sys.exit("bench: " + message)


class Runner:
    """Times whole processes and keeps the results for the report."""

    def __init__(self, runs, slow_runs, log_dir, measure):
        self.runs = runs
        self.slow_runs = slow_runs
        self.log_dir = log_dir
        self.measure_exe = measure
        self.count = 0

    def once(self, argv, stdout=os.devnull):
        """Runs argv to completion: (seconds, peak RSS KiB, user CPU seconds,
        system CPU seconds). Fails on a non-zero exit.

        bench/measure.cpp forks, execs and waits: a child spawned from Python
        would carry Python's RSS high-water mark across exec()."""
        self.count += 1
        log = os.path.join(self.log_dir, f"run-{self.count}.err")
        report = os.path.join(self.log_dir, "measure.out")
        subprocess.run([self.measure_exe, report, stdout, log, "--"] + argv, check=True)
        with open(report) as f:
            seconds, rss, code, user, system = f.read().split()
        if int(code) != 0:
            with open(log, errors="replace") as f:
                fail(f"{' '.join(argv)[:300]} failed:\n{f.read()[-2000:]}")
        return float(seconds), int(rss), float(user), float(system)

    def measure(self, argv, reset=None, slow=False, warmup=None):
        """Median seconds and peak RSS of `argv` after one warm-up run
        (of `warmup` instead, when given: a slow baseline warms up with one
        of its processes, not hundreds); `reset` (untimed) runs before every
        timed run."""
        runs = self.slow_runs if slow else self.runs
        if reset:
            reset()
        self.once(warmup or argv)
        samples = []
        for _ in range(runs):
            if reset:
                reset()
            samples.append(self.once(argv))
        return summary(samples)


    def measure_together(self, commands):
        """measure() for several commands compared with each other: after a
        warm-up of each, their runs alternate (A B C A B C ...), so that a
        change in the machine's load hits them all alike."""
        for argv in commands.values():
            self.once(argv)
        samples = {name: [] for name in commands}
        for _ in range(self.runs):
            for name, argv in commands.items():
                samples[name].append(self.once(argv))
        return {name: summary(runs) for name, runs in samples.items()}


def summary(samples):
    """Median, min and max wall seconds, the largest peak RSS, and the median
    user and system CPU seconds of once() results."""
    times = [s[0] for s in samples]
    return {"median": statistics.median(times), "min": min(times), "max": max(times),
            "rss": max(s[1] for s in samples), "runs": len(samples),
            "user": statistics.median(s[2] for s in samples),
            "system": statistics.median(s[3] for s in samples)}


def bash(script, *args):
    """argv running `script` in bash with $1.. = args."""
    return ["bash", "-c", script, "bench"] + [str(a) for a in args]


def count_functions(tree):
    return len(os.listdir(os.path.join(tree, "sys/bus/pci/devices")))


# --- 1. inventory + Kconfig ----------------------------------------------------

def inventory_commands(pcipass, floor, tree, out_dir, name):
    """Section 1's commands on the simulated host `tree`, taking turns."""
    sys_root = os.path.join(tree, "sys")
    return {
        "floor": [floor, sys_root],
        "tight": [floor, "-r", sys_root],
        # The same output file each run: as a rerun of make dynconfig, which
        # keeps the numbers of the file it replaces.
        "pcipass": [pcipass, "--sysfs-root", sys_root, "kconfig", "-o",
                    os.path.join(out_dir, f"Kconfig.{name}")],
        "list_json": [pcipass, "--sysfs-root", sys_root, "list", "--json"],
        "lspci": ["lspci", "-Dvmmm", "-A", "linux-sysfs", "-O", f"sysfs.path={sys_root}/bus/pci"],
    }


def bench_inventory(r, pcipass, floor, trees, disk_trees, out_dir):
    """Rows for the servers in tmpfs, then the full one in a disk-backed folder."""
    rows = []
    places = [(name, os.path.join(trees, name), "tmpfs") for name in ("server-16", "server-32", "server")]
    if disk_trees:
        places.append(("server", os.path.join(disk_trees, "server"), "disk"))
    for name, tree, folder in places:
        row = {"host": name, "folder": folder, "functions": count_functions(tree)}
        row.update(r.measure_together(inventory_commands(pcipass, floor, tree, out_dir,
                                                         f"{name}-{folder}")))
        rows.append(row)
        print(f"  inventory {name} ({folder}): floor {row['floor']['median']:.3f}s "
              f"tight {row['tight']['median']:.3f}s pcipass {row['pcipass']['median']:.3f}s "
              f"list --json {row['list_json']['median']:.3f}s lspci {row['lspci']['median']:.3f}s",
              flush=True)
    return rows


# --- 2. node devices through libvirt -------------------------------------------

# What a script built on virsh does: list the PCI node devices, then one
# nodedev-dumpxml per device. virsh 9.0's nodedev-list fails on the test
# driver whatever the options ("unsupported flags"), so there the names come
# from the host file itself (grep); the per-device processes are the cost.
VIRSH_NODEDEVS = r'''
uri=$1
if [[ $uri == test://* ]]; then
  names=$(grep -o '<name>pci_[^<]*' "${uri#test://}" | cut -d'>' -f2)
else
  names=$(virsh -q -r -c "$uri" nodedev-list --cap pci)
fi
for d in $names; do virsh -q -r -c "$uri" nodedev-dumpxml "$d" >/dev/null; done
'''


def bench_nodedev(r, pcipass, trees):
    rows = []
    sources = [(f"test driver, lab-{n}", f"test://{os.path.join(trees, f'lab-{n}')}/libvirt-test.xml",
                n) for n in (256, 512, 1024)]
    real = subprocess.run(["virsh", "-q", "-r", "-c", QEMU, "nodedev-list", "--cap", "pci"],
                          capture_output=True, text=True)
    if real.returncode == 0:
        sources.append(("real libvirtd (qemu:///system)", QEMU, len(real.stdout.split())))
    for label, uri, devices in sources:
        row = {"source": label, "devices": devices}
        # A table to /dev/null; host usage is read from this machine's /sys, read-only.
        row["pcipass"] = r.measure([pcipass, "-c", uri, "list"])
        row["virsh"] = r.measure(bash(VIRSH_NODEDEVS, uri), slow=True,
                                 warmup=["virsh", "-q", "-r", "-c", uri, "uri"])
        rows.append(row)
        print(f"  nodedev {label}: pcipass {row['pcipass']['median']:.3f}s "
              f"virsh {row['virsh']['median']:.3f}s", flush=True)
    return rows


# --- 3. bringup -----------------------------------------------------------------

VIRSH_ATTACH = r'''
while read -r dom file; do
  virsh -q -c "$1" attach-device "$dom" "$file" --config >/dev/null
done < "$2"
'''


class Guests:
    """Throwaway domains pcipass-bench-PID-N on the real libvirtd, undefined at exit."""

    def __init__(self, work, template_path, count):
        self.work = work
        self.names = [f"pcipass-bench-{os.getpid()}-{i}" for i in range(count)]
        self.files = {}
        with open(template_path) as f:
            template = f.read()
        for name in self.names:
            xml = template.replace("<name>pcipass-guest</name>",
                                   f"<name>{name}</name>\n  <uuid>{uuid.uuid4()}</uuid>")
            if name not in xml:
                fail(f"{template_path}: no <name>pcipass-guest</name> to replace")
            path = os.path.join(work, "pristine", f"{name}.xml")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(xml)
            self.files[name] = path
        self.defined = False
        atexit.register(self.undefine)

    def virsh_batch(self, commands):
        """Runs `commands` (virsh command lines) in one virsh process."""
        script = os.path.join(self.work, "batch.virsh")
        with open(script, "w") as f:
            f.write("\n".join(commands) + "\n")
        result = subprocess.run(["virsh", "-q", "-c", QEMU],
                                stdin=open(script), capture_output=True, text=True)
        return result

    def define(self, names=None):
        """(Re)defines `names` (default all) from their pristine XML: no hostdevs."""
        names = names or self.names
        result = self.virsh_batch([f"define {self.files[n]}" for n in names])
        if result.returncode != 0:
            fail("defining the benchmark guests: " + result.stderr)
        self.defined = True

    def undefine(self):
        if not self.defined:
            return
        self.defined = False
        existing = subprocess.run(["virsh", "-q", "-c", QEMU, "list", "--all", "--name"],
                                  capture_output=True, text=True).stdout.split()
        mine = [n for n in self.names if n in existing]
        if mine:
            self.virsh_batch([f"undefine {n}" for n in mine])

    def reset_files(self, xml_dir, names):
        shutil.rmtree(xml_dir, ignore_errors=True)
        os.makedirs(xml_dir)
        for n in names:
            shutil.copy(self.files[n], os.path.join(xml_dir, f"{n}.xml"))


def free_devices(pcipass, tree, count):
    """The first `count` addresses of the lab host's free NVMe controllers."""
    devices = sorted(os.listdir(os.path.join(tree, "sys/bus/pci/devices")))
    free = [d for d in devices if d not in ("0000:00:00.0", "0000:00:01.0")]
    if len(free) < count:
        fail(f"{tree} has {len(free)} free devices, {count} needed")
    return free[:count]


def hostdev_xml(template, address):
    domain, bus, rest = address.split(":")
    slot, function = rest.split(".")
    xml = template.replace("domain='0x0000' bus='0x00' slot='0x00' function='0x0'",
                           f"domain='0x{domain}' bus='0x{bus}' slot='0x{slot}' "
                           f"function='0x{int(function, 16):x}'")
    return xml.replace("ua-pcipass-0000-00-00-0",
                       f"ua-pcipass-{domain}-{bus}-{slot}-{function}")


def bench_bringup(r, pcipass, source_dir, trees, work):
    tree = os.path.join(trees, "lab-1024")
    sys_root = os.path.join(tree, "sys")
    guests = Guests(work, os.path.join(source_dir, "xml-templates/guest-q35.xml"), GUESTS_FULL)
    with open(os.path.join(source_dir, "xml-templates/hostdev-pci.xml")) as f:
        hostdev_template = f.read()
    devices = free_devices(pcipass, tree, GUESTS_FULL * DEVICES_PER_GUEST)
    state = os.path.join(work, "state")
    rows = []
    try:
        guests.define()
        for count in (GUESTS_FULL // 4, GUESTS_FULL // 2, GUESTS_FULL):
            names = guests.names[:count]
            pairs = [(names[i // DEVICES_PER_GUEST], devices[i])
                     for i in range(count * DEVICES_PER_GUEST)]
            assignments = [f"{dev}={guest}" for guest, dev in pairs]
            common = [pcipass, "--sysfs-root", sys_root, "--source", "sysfs",
                      "--state-dir", state]
            row = {"guests": count, "devices": len(pairs)}

            row["pcipass_libvirt"] = r.measure(
                common + ["-c", QEMU, "bringup", "--no-bind"] + assignments,
                reset=lambda n=names: guests.define(n))
            check_hostdevs(guests, names[0], DEVICES_PER_GUEST)

            xml_dir = os.path.join(work, "xml")
            row["pcipass_files"] = r.measure(
                common + ["bringup", "--no-bind", "--xml-dir", xml_dir] + assignments,
                reset=lambda n=names: guests.reset_files(xml_dir, n))

            hostdev_dir = os.path.join(work, "hostdevs")
            os.makedirs(hostdev_dir, exist_ok=True)
            plan = os.path.join(work, f"attach-{count}.txt")
            with open(plan, "w") as f:
                for guest, dev in pairs:
                    path = os.path.join(hostdev_dir, dev.replace(":", "-") + ".xml")
                    with open(path, "w") as h:
                        h.write(hostdev_xml(hostdev_template, dev))
                    f.write(f"{guest} {path}\n")
            row["virsh"] = r.measure(bash(VIRSH_ATTACH, QEMU, plan),
                                     reset=lambda n=names: guests.define(n), slow=True,
                                     warmup=["virsh", "-q", "-c", QEMU, "list", "--all"])
            check_hostdevs(guests, names[0], DEVICES_PER_GUEST)
            rows.append(row)
            print(f"  bringup {count}x{DEVICES_PER_GUEST}: pcipass/libvirt "
                  f"{row['pcipass_libvirt']['median']:.3f}s files {row['pcipass_files']['median']:.3f}s "
                  f"virsh {row['virsh']['median']:.3f}s", flush=True)
    finally:
        guests.undefine()
    return rows


# --- 5. --dry-run's diff of a large guest ----------------------------------------

# A guest whose <qemu:commandline> holds N arguments in double quotes: pcipass
# writes attributes in single quotes, so a dry run's diff changes every line
# (the worst case for the diff; issue 16 item 11).
DIFF_LINES_FULL = 30000
GNU_DIFF = 'diff -u "$1" "$2" >/dev/null; test $? -le 1'


def big_guest(template_path, lines):
    with open(template_path) as f:
        xml = f.read()
    xml = xml.replace("<domain type='qemu'>",
                      "<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>")
    args = "".join(f'    <qemu:arg value="-global-{i}=driver.property.value"/>\n'
                   for i in range(lines))
    return xml.replace("</domain>", f"  <qemu:commandline>\n{args}  </qemu:commandline>\n</domain>")


def bench_diff(r, pcipass, source_dir, trees, work):
    tree = os.path.join(trees, "lab-256")
    sys_root = os.path.join(tree, "sys")
    device = free_devices(pcipass, tree, 1)[0]
    rows = []
    for lines in (DIFF_LINES_FULL // 4, DIFF_LINES_FULL // 2, DIFF_LINES_FULL):
        before = os.path.join(work, f"big-{lines}.xml")
        with open(before, "w") as f:
            f.write(big_guest(os.path.join(source_dir, "xml-templates/guest-q35.xml"), lines)
                    .replace("<name>pcipass-guest</name>", "<name>big</name>"))
        after = before + ".after"
        shutil.copyfile(before, after)
        attach = [pcipass, "--sysfs-root", sys_root, "attach", "--xml"]
        subprocess.run(attach + [after, "big", device], check=True, capture_output=True)
        row = {"lines": lines, "bytes": os.path.getsize(before)}
        row.update(r.measure_together({
            "pcipass": attach + [before, "--dry-run", "big", device],
            "diff": bash(GNU_DIFF, before, after),
        }))
        rows.append(row)
        print(f"  diff {lines} lines: pcipass {row['pcipass']['median']:.3f}s "
              f"GNU diff {row['diff']['median']:.3f}s", flush=True)
    return rows


def check_hostdevs(guests, name, expected):
    xml = subprocess.run(["virsh", "-q", "-c", QEMU, "dumpxml", "--inactive", name],
                         capture_output=True, text=True).stdout
    found = xml.count("<hostdev ")
    if found != expected:
        fail(f"domain {name} has {found} hostdevs after bringup, expected {expected}")


# --- profile --------------------------------------------------------------------

# Where pcipass's time goes, as perf's inclusive ("children") share of samples.
PHASES = [
    ("reading devices, both threads (`read_device`)", "pcipass::host::(anonymous namespace)::read_device"),
    ("  optional attributes (`RealSysfs::read_if_present`)", "pcipass::host::RealSysfs::read_if_present"),
    ("  links (`RealSysfs::read_link_if_present`)", "pcipass::host::RealSysfs::read_link_if_present"),
    ("  `config` space (`open_attribute` and its reads)", "pcipass::host::RealSysfs::open_attribute"),
    ("  sub-folders: `net/`, `nvme/` (`RealSysfs::list`)", "pcipass::host::RealSysfs::list"),
    ("reading the previous file's numbers (`read_number_ledger`)", "pcipass::core::read_number_ledger"),
    ("names, human names, host usage (`complete_inventory`)", "pcipass::host::complete_inventory"),
    ("  loading pci.ids (`PciIdsNames`)", "pcipass::core::PciIdsNames::PciIdsNames"),
    ("generating and writing the Kconfig (`write_passthrough_kconfig`)",
     "pcipass::core::write_passthrough_kconfig"),
    ("dynamic loading before main (`_dl_start`)", "_dl_start"),
]


BIND_MS = 200          # an NVMe controller's shutdown, modelled in each unbind
BIND_COUNTS = (1, 16, 32, 64)


def bench_binds(r, build, trees):
    """Binding N NVMe controllers on the simulated kernel, one after the other
    and at once (pcipass-bench-binds prints the executor's own seconds)."""
    exe = os.path.join(build, "bench", "pcipass-bench-binds")
    tree = os.path.join(trees, "lab-66-nvme")

    def timed(count, threads, runs):
        values = []
        for _ in range(runs + 1):  # the first is the warm-up
            p = subprocess.run([exe, tree, str(count), str(BIND_MS), str(threads)],
                               capture_output=True, text=True)
            if p.returncode != 0:
                fail(f"{exe} {count} devices, {threads} threads: {p.stderr.strip()}")
            values.append(float(p.stdout))
        values = values[1:]
        return {"median": statistics.median(values), "min": min(values), "max": max(values)}

    rows = []
    for count in BIND_COUNTS:
        print(f"bench: binding {count} controllers", flush=True)
        rows.append({"devices": count,
                     "together": timed(count, 64, r.runs),
                     # count x BIND_MS each: the slow baseline's run count
                     "one_by_one": timed(count, 1, r.slow_runs)})
    return rows


def perf_shares(data, children):
    mode = "--children" if children else "--no-children"
    text = subprocess.run(["perf", "report", "-i", data, mode, "--sort", "dso,sym" if not children
                           else "sym", "-g", "none", "--stdio"],
                          capture_output=True, text=True).stdout
    shares = {}
    for line in text.splitlines():
        parts = line.split()
        if not parts or not parts[0].endswith("%"):
            continue
        try:
            share = float(parts[0].rstrip("%"))
        except ValueError:
            continue
        name = line.split("] ", 1)[1].strip() if "] " in line else parts[-1]
        shares.setdefault(name, share)
        if not children:
            shares.setdefault("dso:" + parts[1], 0.0)
            shares["dso:" + parts[1]] += share
    return shares


def syscall_counts(argv, out):
    """strace -f -c of `argv` (output thrown away): calls and failed calls
    by system call, and the total."""
    with open(os.devnull, "w") as devnull:
        subprocess.run(["strace", "-f", "-c", "-o", out] + argv, stdout=devnull,
                       stderr=subprocess.DEVNULL)
    counts, errors, total = {}, {}, 0
    with open(out) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
                try:
                    counts[parts[-1]] = int(parts[3])
                    if len(parts) >= 6:
                        errors[parts[-1]] = int(parts[4])
                except ValueError:
                    pass
            elif len(parts) >= 4 and parts[-1] == "total":
                total = int(parts[3])
    return counts, errors, total


def profile(pcipass, floor, trees, work):
    tree = os.path.join(trees, "server", "sys")
    argv = [pcipass, "--sysfs-root", tree, "kconfig", "-o", os.path.join(work, "Kconfig.profile")]
    lines = ["### Measured in this run", ""]
    if shutil.which("perf"):
        data = os.path.join(work, "perf.data")
        record = subprocess.run(["perf", "record", "-q", "-F", "4000", "--call-graph", "dwarf,16384",
                                 "-o", data, "--"] + argv, capture_output=True, text=True)
        if record.returncode == 0:
            inclusive = perf_shares(data, children=True)
            own = perf_shares(data, children=False)
            kernel = own.get("dso:[kernel.kallsyms]", 0.0)
            lines += ["`perf record --call-graph dwarf` of one pcipass run on the full server "
                      "(share of all samples, inclusive of callees; the kernel's share is part "
                      "of each phase; samples whose stack perf could not unwind to the top "
                      "count for the function they were taken in but not for its callers, so "
                      "a phase can show less than the parts listed under it):", "",
                      "| phase | share |", "|---|---:|"]
            for label, symbol in PHASES:
                share = next((v for k, v in inclusive.items()
                              if k == symbol or k.startswith(symbol + "[") or k.startswith(symbol + "(")),
                             None)
                if share is not None:
                    lines.append(f"| {label} | {share:.1f}% |")
            lines.append(f"| in the kernel (system calls, page faults), all phases | {kernel:.1f}% |")
            lines.append("")
        else:
            lines += [f"perf record failed: {record.stderr.strip()[:200]}", ""]
    else:
        lines += ["perf is not installed: no sampled profile (apt-get install linux-perf).", ""]
    if shutil.which("strace"):
        runs = [("pcipass kconfig", argv),
                ("pcipass list --json", [pcipass, "--sysfs-root", tree, "list", "--json"]),
                ("floor", [floor, tree]), ("tight floor", [floor, "-r", tree])]
        lines += ["System calls for the full server in tmpfs (`strace -f -c`):", "",
                  "| | total | openat (failed) | read | pread64 | close | readlink(at) | "
                  "getdents64 |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for i, (label, command) in enumerate(runs):
            counts, errors, total = syscall_counts(command, os.path.join(work, f"strace-{i}"))
            links = counts.get("readlink", 0) + counts.get("readlinkat", 0)
            lines.append(f"| {label} | {total} | {counts.get('openat', 0)} "
                         f"({errors.get('openat', 0)}) | {counts.get('read', 0)} | "
                         f"{counts.get('pread64', 0)} | {counts.get('close', 0)} | {links} | "
                         f"{counts.get('getdents64', 0)} |")
        lines.append("")
    return "\n".join(lines)


# --- report ---------------------------------------------------------------------

def machine():
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    return (f"{model}, {os.cpu_count()} CPUs (nproc), {mem_kib // 1024} MiB RAM, "
            f"Linux {platform.release()}")


def filesystem(path):
    """'ext4 on /dev/vda', as findmnt tells the folder holding `path`."""
    out = subprocess.run(["findmnt", "-n", "-o", "FSTYPE,SOURCE", "--target", path],
                         capture_output=True, text=True).stdout.split()
    return f"{out[0]} on {out[1]}" if len(out) >= 2 else "?"


def version(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError):
        return "?"


def ms(m):
    return f"{m['median'] * 1000:.1f}"


def mib(m):
    return f"{m['rss'] / 1024:.1f}"


def ratio(a, b):
    return f"{a['median'] / b['median']:.2f}×"


def speedup(slow, fast):
    return f"{slow['median'] / fast['median']:.0f}×"


def verdict(ok):
    return "met" if ok else "**not met**"


def report(results, args, started, elapsed, profile_text):
    inv_all, nodedev, bringup = results["inventory"], results["nodedev"], results["bringup"]
    diffs = results["diff"]
    inv = [row for row in inv_all if row["folder"] == "tmpfs"]
    disk = next((row for row in inv_all if row["folder"] == "disk"), None)
    full = inv[-1]
    big = bringup[-1] if bringup else None
    lines = []
    add = lines.append
    add("# Benchmarks")
    add("")
    add(f"Generated by `scripts/bench.sh` on {started} (whole run {elapsed:.0f} s); "
        "do not edit by hand, rerun it. Issue 8 defines what is measured.")
    add("")
    add("## Targets")
    add("")
    add("| target | measured | |")
    add("|---|---|---|")
    for row in [full] + ([disk] if disk else []):
        where = "in tmpfs" if row is full else "in a disk-backed folder"
        for key, what in (("pcipass", "inventory + Kconfig"), ("list_json", "`list --json`")):
            ok = row[key]["median"] <= row["tight"]["median"]
            add(f"| {what} of the 4096-function server {where} ≤ 1.0× the tight floor | "
                f"{ratio(row[key], row['tight'])} ({ms(row[key])} ms vs {ms(row['tight'])} ms) | "
                f"{verdict(ok)} |")
    t1 = full["pcipass"]["median"] <= full["floor"]["median"]
    add(f"| inventory + Kconfig in tmpfs ≤ 1.0× the naive floor (issue 8) | "
        f"{ratio(full['pcipass'], full['floor'])} ({ms(full['pcipass'])} ms vs "
        f"{ms(full['floor'])} ms) | {verdict(t1)} |")
    rss_ok = full["pcipass"]["rss"] <= 16 * 1024
    add(f"| peak RSS of inventory + Kconfig ≤ 16 MiB | {mib(full['pcipass'])} MiB | "
        f"{verdict(rss_ok)} |")
    if big:
        s_lib = big["virsh"]["median"] / big["pcipass_libvirt"]["median"]
        s_file = big["virsh"]["median"] / big["pcipass_files"]["median"]
        add(f"| bringup of {big['guests']} guests × {DEVICES_PER_GUEST} devices through libvirt "
            f"≥ 20× faster than one virsh attach-device per device | {s_lib:.0f}× | "
            f"{verdict(s_lib >= 20)} |")
        add(f"| the same into XML files (--xml-dir) ≥ 200× | {s_file:.0f}× | "
            f"{verdict(s_file >= 200)} |")
    binds = results["binds"]
    if binds:
        single, most = binds[0]["together"]["median"], binds[-1]["together"]["median"]
        add(f"| binding {binds[-1]['devices']} NVMe controllers ({BIND_MS} ms unbind each) "
            f"≤ 2× the time of one | {most / single:.2f}× ({most * 1000:.0f} ms vs "
            f"{single * 1000:.0f} ms) | {verdict(most <= 2 * single)} |")
    if diffs:
        d = diffs[-1]
        fast = d["pcipass"]["median"] < 0.5
        add(f"| `attach --dry-run` of a {d['bytes'] / 2**20:.1f} MiB guest whose every line "
            f"changes, diff included: well under a second (< 0.5 s) | {ms(d['pcipass'])} ms, "
            f"{mib(d['pcipass'])} MiB | {verdict(fast)} |")
    add("")
    add("## Machine and method")
    add("")
    add(f"- Machine: {machine()}.")
    add(f"- Tools: {version(['lspci', '--version'])}; virsh {version(['virsh', '--version'])}; "
        f"libvirtd {version(['virsh', '-c', QEMU, 'version', '--daemon'])}"
        .replace("\n", " "))
    add(f"- pcipass: Release build (`-O2`) made by `scripts/bench.sh` in `{args.build}`.")
    add(f"- Every figure is the wall time of whole processes, from start to exit, measured "
        f"by `bench/measure.cpp` (fork, exec, `wait4`, a monotonic clock), which `bench/run.py` "
        f"calls; peak RSS is `ru_maxrss` of the same call (what `/usr/bin/time -f %M` prints; for a multi-process "
        f"baseline, its largest process). "
        f"Each measurement runs once as a warm-up, then {args.runs} times (in section 1 the "
        f"five commands take turns, run by run, so a change in load hits them all); the baselines "
        f"that start one virsh per device (every run is itself hundreds of processes) warm "
        f"up with a single virsh process and run {args.slow_runs} time(s). The tables show "
        f"medians (min–max in parentheses where given), and every ratio compares numbers "
        f"of the same run.")
    add("- Simulated hosts are generated into tmpfs by `pcipass-simhost`: the server from "
        "`tools/simhost/make-server-yaml.py` with 16, 32 and 64 SR-IOV PFs (each 1 + 63 "
        "functions; the full one is `tests/data/hosts/server.yaml`), lab hosts with 256, "
        "512 and 1024 PCI functions from `bench/make-lab-yaml.py` (their "
        "`libvirt-test.xml` is the test-driver host file). Outputs go to tmpfs too, so "
        "fsync costs nothing and disk noise stays out of the numbers.")
    if disk:
        add(f"- The full server is generated a second time into a disk-backed folder "
            f"(`{args.disk_trees}`, {filesystem(args.disk_trees)}) for section 1; its reads "
            f"come from the page cache after the warm-up, as a real `/sys` never leaves "
            f"memory, but the file system's lookups are the disk one's. Outputs stay in tmpfs.")
    add(f"- Load average (1, 5, 15 min) when the run began: {args.load_before}; the "
        "benchmark itself keeps one or two CPUs busy. Absolute times vary with other work "
        "on the machine; ratios within a run are the comparison that holds.")
    add("")
    add("## 1. Inventory + Kconfig on the SR-IOV server")
    add("")
    add("- **pcipass kconfig**: `pcipass --sysfs-root T/sys kconfig -o FILE`, the whole "
        "process: inventory from sysfs, names from pci.ids, host usage from T/proc, the "
        "Kconfig written atomically. FILE is the previous run's output, as in a rerun of "
        "`make dynconfig`: its numbers are read and kept.")
    add("- **pcipass list --json**: `pcipass --sysfs-root T/sys list --json`, to /dev/null: "
        "the same inventory, every field of every function as JSON.")
    add("- **lspci**: `lspci -Dvmmm -A linux-sysfs -O sysfs.path=T/sys/bus/pci` alone, to "
        "/dev/null.")
    add("- **floor** (naive, issue 8): `bench/floor.cpp`; per function it opens and reads "
        "`vendor`, `device`, `class`, `subsystem_vendor`, `subsystem_device`, `revision`, "
        "`numa_node` and reads the `iommu_group` and `driver` links, each by its whole path, "
        "printing nothing.")
    add("- **tight floor** (issue 21): `bench/floor.cpp -r`; the same reads, but each device "
        "folder is opened once and the files and links are opened relative to it (`openat`, "
        "`readlinkat`): one path walk per function.")
    add("")
    add("| host | folder | PCI functions | floor ms | tight floor ms | pcipass kconfig ms | "
        "pcipass list --json ms | lspci ms | kconfig / tight | list --json / tight | "
        "kconfig / floor | lspci / tight |")
    add("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in inv_all:
        add(f"| {row['host']} | {row['folder']} | {row['functions']} | {ms(row['floor'])} | "
            f"{ms(row['tight'])} | "
            f"{ms(row['pcipass'])} ({row['pcipass']['min']*1000:.0f}–{row['pcipass']['max']*1000:.0f}) | "
            f"{ms(row['list_json'])} | {ms(row['lspci'])} | {ratio(row['pcipass'], row['tight'])} | "
            f"{ratio(row['list_json'], row['tight'])} | {ratio(row['pcipass'], row['floor'])} | "
            f"{ratio(row['lspci'], row['tight'])} |")
    add("")
    add("CPU time (median user / system ms of the same runs) and peak RSS:")
    add("")
    add("| host | folder | tight floor | pcipass kconfig | pcipass list --json | lspci | "
        "RSS MiB tight / kconfig / list --json / lspci |")
    add("|---|---|---:|---:|---:|---:|---|")
    for row in inv_all:
        cpu = " | ".join(f"{row[k]['user'] * 1000:.0f} / {row[k]['system'] * 1000:.0f}"
                         for k in ("tight", "pcipass", "list_json", "lspci"))
        add(f"| {row['host']} | {row['folder']} | {cpu} | {mib(row['tight'])} / "
            f"{mib(row['pcipass'])} / {mib(row['list_json'])} / {mib(row['lspci'])} |")
    add("")
    add(growth_note([r["functions"] for r in inv], [r["pcipass"]["median"] for r in inv],
                    "pcipass kconfig"))
    add("")
    add("## 2. Node-device enumeration through libvirt")
    add("")
    add("- **pcipass**: `pcipass -c URI list` (one connection: list, then the XML of every "
        "PCI device; the table goes to /dev/null).")
    add("- **virsh**: `virsh nodedev-list --cap pci`, then one `virsh nodedev-dumpxml` per "
        "device. virsh 9.0's `nodedev-list` fails on the test driver with any options "
        "(\"unsupported flags\"; pcipass retries without the filter), so for the test driver "
        "the baseline takes the names from the host file with grep.")
    add("")
    add("| source | PCI devices | pcipass ms | virsh ms | virsh / pcipass | RSS MiB pcipass / virsh |")
    add("|---|---:|---:|---:|---:|---|")
    for row in nodedev:
        add(f"| {row['source']} | {row['devices']} | {ms(row['pcipass'])} | {ms(row['virsh'])} | "
            f"{speedup(row['virsh'], row['pcipass'])} | {mib(row['pcipass'])} / {mib(row['virsh'])} |")
    add("")
    add("The test driver parses its whole host file when a connection opens, so each of "
        "the N virsh processes pays for all N devices: the baseline grows with N², pcipass "
        "(one connection) with N.")
    add("")
    add(f"## 3. Bringup of guests × {DEVICES_PER_GUEST} devices")
    add("")
    add("Guests are throwaway q35 domains (`xml-templates/guest-q35.xml`, never started) "
        "defined on the real libvirtd; devices are free NVMe controllers of the simulated "
        "lab-1024 host; every run starts from guests without hostdevs.")
    add("")
    add("- **pcipass, libvirt**: `pcipass --sysfs-root T/sys --source sysfs -c qemu:///system "
        "bringup --no-bind DEV=GUEST ...`: one process, one connection, all guests.")
    add("- **pcipass, files**: the same with `--xml-dir DIR`, editing the guests' XML files "
        "before they are defined (kdevops' flow).")
    add("- **virsh**: one `virsh attach-device GUEST HOSTDEV.xml --config` process per "
        "device, with the same `<hostdev>` pcipass writes.")
    add("")
    add("| guests | devices | pcipass libvirt ms | pcipass files ms | virsh ms | "
        "virsh / pcipass libvirt | virsh / pcipass files | RSS MiB pcipass libvirt / files |")
    add("|---:|---:|---:|---:|---:|---:|---:|---|")
    for row in bringup:
        add(f"| {row['guests']} | {row['devices']} | {ms(row['pcipass_libvirt'])} | "
            f"{ms(row['pcipass_files'])} | {ms(row['virsh'])} | "
            f"{speedup(row['virsh'], row['pcipass_libvirt'])} | "
            f"{speedup(row['virsh'], row['pcipass_files'])} | {mib(row['pcipass_libvirt'])} / "
            f"{mib(row['pcipass_files'])} |")
    add("")
    add("## 4. How cost grows")
    add("")
    add("Each table above has 1/4, 1/2 and the full size. Per unit (median ms per 1000 "
        "functions, devices or guest devices):")
    add("")
    add("| measurement | 1/4 | 1/2 | full |")
    add("|---|---:|---:|---:|")
    add(per_unit("pcipass inventory + Kconfig, per 1000 functions", inv,
                 lambda r: r["pcipass"]["median"], lambda r: r["functions"]))
    add(per_unit("pcipass list --json, per 1000 functions", inv,
                 lambda r: r["list_json"]["median"], lambda r: r["functions"]))
    add(per_unit("floor, per 1000 functions", inv, lambda r: r["floor"]["median"],
                 lambda r: r["functions"]))
    add(per_unit("tight floor, per 1000 functions", inv, lambda r: r["tight"]["median"],
                 lambda r: r["functions"]))
    add(per_unit("lspci, per 1000 functions", inv, lambda r: r["lspci"]["median"],
                 lambda r: r["functions"]))
    lab = [r for r in nodedev if r["source"].startswith("test driver")]
    add(per_unit("pcipass node devices (test driver), per 1000 devices", lab,
                 lambda r: r["pcipass"]["median"], lambda r: r["devices"]))
    add(per_unit("virsh node devices (test driver), per 1000 devices", lab,
                 lambda r: r["virsh"]["median"], lambda r: r["devices"]))
    add(per_unit("pcipass bringup through libvirt, per 1000 devices", bringup,
                 lambda r: r["pcipass_libvirt"]["median"], lambda r: r["devices"]))
    add(per_unit("pcipass bringup into files, per 1000 devices", bringup,
                 lambda r: r["pcipass_files"]["median"], lambda r: r["devices"]))
    add(per_unit("virsh attach-device, per 1000 devices", bringup,
                 lambda r: r["virsh"]["median"], lambda r: r["devices"]))
    add(per_unit("pcipass attach --dry-run, per 1000 changed lines", diffs,
                 lambda r: r["pcipass"]["median"], lambda r: r["lines"]))
    add("")
    add("A constant per-unit cost is linear growth; a falling one means a fixed start-up "
        "cost spread over more units; a rising one, worse than linear.")
    add("")
    if diffs:
        add("## 5. `--dry-run` diff of a large guest")
        add("")
        add("A guest with N `<qemu:arg value=\"...\"/>` lines in double quotes; pcipass "
            "writes attributes in single quotes, so the diff a dry run prints changes every "
            "line: the worst case for the diff (it used to keep a table of every pair of "
            "lines, 3.6 GB for 30k lines).")
        add("")
        add("- **pcipass**: `pcipass attach --xml FILE --dry-run big DEV`, the whole process: "
            "inventory of the named device, the file read, parsed, edited and diffed.")
        add("- **GNU diff**: `diff -u FILE AFTER` of the same two texts, to /dev/null.")
        add("")
        add("| lines | size KiB | pcipass ms | GNU diff ms | pcipass / diff | "
            "RSS MiB pcipass / diff |")
        add("|---:|---:|---:|---:|---:|---|")
        for row in diffs:
            add(f"| {row['lines']} | {row['bytes'] // 1024} | {ms(row['pcipass'])} | "
                f"{ms(row['diff'])} | {ratio(row['pcipass'], row['diff'])} | "
                f"{mib(row['pcipass'])} / {mib(row['diff'])} |")
        add("")
    if binds:
        add("## 6. Binding many devices at once")
        add("")
        add(f"`bench/binds.cpp` binds N free NVMe controllers of `lab-66-nvme` (from "
            f"`bench/make-lab-yaml.py 66 --driver nvme`: each controller on nvme, in its own "
            f"IOMMU group) to vfio-pci with the executor the commands use, on the simulated "
            f"kernel of the tests, whose every unbind from nvme takes {BIND_MS} ms as a "
            f"controller's shutdown does (spent outside the simulated kernel's lock, as the "
            f"kernel holds only that device's). The figure is the executor's run alone, "
            f"journal saves and checks included (the copy of the tree the simulated kernel "
            f"makes first is left out). **at once** is what the commands do: up to 64 IOMMU "
            f"groups bound by as many threads; **one after the other** is one thread "
            f"(`Executor::set_concurrent_binds(1)`), as before.")
        add("")
        add("| devices | one after the other s | at once s | at once / one device at once | "
            "speed-up |")
        add("|---:|---:|---:|---:|---:|")
        single = binds[0]["together"]["median"]
        for row in binds:
            seq, tog = row["one_by_one"]["median"], row["together"]["median"]
            add(f"| {row['devices']} | {seq:.3f} | {tog:.3f} | {tog / single:.2f}× | "
                f"{seq / tog:.1f}× |")
        add("")
    add(profile_text.rstrip())
    add("")
    return "\n".join(lines)


def per_unit(label, rows, seconds, units):
    cells = [f"{seconds(r) * 1000 / units(r) * 1000:.1f}" for r in rows]
    while len(cells) < 3:
        cells.append("–")
    return f"| {label} | " + " | ".join(cells) + " |"


def growth_note(sizes, seconds, who):
    if len(sizes) < 2:
        return ""
    growth = seconds[-1] / seconds[0]
    return (f"From {sizes[0]} to {sizes[-1]} functions ({sizes[-1] / sizes[0]:.1f}× more), "
            f"{who} takes {growth:.1f}× as long.")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", required=True)
    parser.add_argument("--trees", required=True)
    parser.add_argument("--source", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parser.add_argument("--out", required=True)
    parser.add_argument("--disk-trees", help="a disk-backed folder holding the server host "
                        "again, for section 1 (default: none)")
    parser.add_argument("--profile", help="markdown file with the profile section")
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", 7)))
    parser.add_argument("--slow-runs", type=int, default=int(os.environ.get("BENCH_SLOW_RUNS", 1)))
    parser.add_argument("--quick", action="store_true", help="3 runs, and 1 for slow baselines")
    parser.add_argument("--skip", action="append", default=[],
                        choices=["inventory", "nodedev", "bringup", "diff", "binds"])
    args = parser.parse_args()
    if args.quick:
        args.runs, args.slow_runs = 3, 1
    pcipass = os.path.join(args.build, "pcipass")
    floor = os.path.join(args.build, "bench", "pcipass-bench-floor")
    measure = os.path.join(args.build, "bench", "pcipass-bench-measure")
    binds = os.path.join(args.build, "bench", "pcipass-bench-binds")
    for exe in (pcipass, floor, measure, binds):
        if not os.access(exe, os.X_OK):
            fail(f"{exe} is missing; build first (scripts/bench.sh does)")

    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with open("/proc/loadavg") as f:
        args.load_before = ", ".join(f.read().split()[:3])
    begin = time.perf_counter()
    work = tempfile.mkdtemp(prefix="pcipass-bench-", dir="/dev/shm")
    atexit.register(shutil.rmtree, work, True)
    r = Runner(args.runs, args.slow_runs, work, measure)
    results = {"inventory": [], "nodedev": [], "bringup": [], "diff": [], "binds": []}
    # The long virsh baselines first, the sensitive inventory ratio last.
    if "nodedev" not in args.skip:
        print("bench: node devices through libvirt", flush=True)
        results["nodedev"] = bench_nodedev(r, pcipass, args.trees)
    if "bringup" not in args.skip:
        print("bench: bringup", flush=True)
        results["bringup"] = bench_bringup(r, pcipass, args.source, args.trees, work)
    if "diff" not in args.skip:
        print("bench: --dry-run diff of a large guest", flush=True)
        results["diff"] = bench_diff(r, pcipass, args.source, trees=args.trees, work=work)
    if "binds" not in args.skip:
        print("bench: binding many devices at once", flush=True)
        results["binds"] = bench_binds(r, args.build, args.trees)
    if "inventory" not in args.skip:
        print("bench: inventory + Kconfig", flush=True)
        results["inventory"] = bench_inventory(r, pcipass, floor, args.trees, args.disk_trees,
                                               work)
    profile_text = ""
    if args.profile:
        with open(args.profile) as f:
            profile_text = f.read()
    if "inventory" not in args.skip:
        print("bench: profile", flush=True)
        profile_text = profile_text.rstrip() + "\n\n" + profile(pcipass, floor, args.trees, work)
    if not results["inventory"]:
        fail("nothing to report without the inventory benchmark")
    text = report(results, args, started, time.perf_counter() - begin, profile_text)
    with open(args.out, "w") as f:
        f.write(text)
    print(f"bench: wrote {args.out}")


if __name__ == "__main__":
    main()
