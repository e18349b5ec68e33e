"""Where the time goes inside the jitted kernels: samples per function, by-value copies, hot code.

    python -m benchmarks.jit_profile CASE [--rounds 4] [--function REGEX] [--top 5]

CASE is ``hot`` (``bench_kernels.HotLoop``) or a full-model case (``county-loan``,
``county-cohort``, ``default-cohort``: ``bench_kernels.FullModel``), run on one thread.
Linux only: needs ``perf`` (allowed to sample your own processes) and binutils'
``objdump`` and ``readelf``.

``perf`` alone cannot name Numba's code: it is loaded from memory, with no symbols. So the
script re-runs itself under ``perf record -F 999`` and, in that child, hooks Numba's code
generator before anything is compiled or loaded from the cache, keeping each library's
object code (``CPUCodeLibrary._object_compiled_hook`` on a compile,
``_object_getbuffer_hook`` on a cache load; Numba 0.68's internals). After one call of the
case has loaded every kernel, it writes each object file and a table of its functions at
their runtime addresses, then runs ``--rounds`` calls with ``perf`` sampling only those.
The parent names each sample's address from that table and disassembles the object files.

How to read it:

* **functions**: each jitted function's share of all samples in the rounds, by
  ``module.function`` (all its specialisations and copies together: a cached kernel carries
  a copy of each callee that was not inlined), then the top symbols outside the jitted
  code (libm's ``pow``, ``exp``, ``log1p``; the interpreter; the OS kernel; ``[unknown]``
  in a ``perf-PID.map`` would be jitted code the table missed). The shares are self time:
  a callee's samples are not in its caller's.
* **by-value copies**: for each jitted function with at least 1% of the samples, its calls
  preceded by more than 32 ``push`` instructions, with the callee and the count. Numba
  passes a namedtuple of arrays by value: every array field is several words (data
  pointer, shape, strides, ...) pushed onto the stack at each call, so a per-record helper
  that LLVM did not inline can cost hundreds of stores and loads a call before it does
  anything. The count is of the hottest copy of the caller.
* **--function REGEX** (matched against ``module.function`` and the symbol): the hottest
  copy's ``--top`` hottest instructions, each with 12 instructions either side (``>``
  marks it; first column samples, second the offset in the function). A sample lands on or
  just after the instruction that waited, so look a few lines up from a hot one (a load,
  a division, a call's return).
"""

from __future__ import annotations

import argparse
import bisect
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ("perf", "objdump", "readelf")
SAMPLING_HZ = 999
MIN_SHARE = 0.01  # functions below 1% of the samples are not searched for copies
MIN_WORDS = 32  # a call pushing more words than this copies bundles of arrays
CONTEXT = 12  # instructions shown either side of a hot one
TABLE = "functions.tsv"
CONTROL, ACK = "perf-control", "perf-ack"


# --------------------------------------------------------------------------- the child


class ObjectCode:
    """Each Numba library's object code as it is handed to the JIT linker.

    Installed before ``guarantee_sim`` is imported, so no kernel escapes it.
    """

    def __init__(self) -> None:
        from numba.core.codegen import CPUCodeLibrary

        # by the library's identity, not its name: every specialisation of a function
        # compiles into a library of the same name
        self.libraries: dict[int, tuple[object, bytes]] = {}
        # classmethods called by the JIT with the module it links: on a compile, with the
        # new object code; on a cache load, to ask for the cached object code
        compiled = vars(CPUCodeLibrary)["_object_compiled_hook"].__func__
        loaded = vars(CPUCodeLibrary)["_object_getbuffer_hook"].__func__

        def on_compiled(cls, ll_module, buf):
            self._keep(ll_module, buf)
            return compiled(cls, ll_module, buf)

        def on_load(cls, ll_module):
            buf = loaded(cls, ll_module)
            if buf is not None:
                self._keep(ll_module, buf)
            return buf

        hooks: dict[str, Callable[..., Any]] = {
            "_object_compiled_hook": on_compiled,
            "_object_getbuffer_hook": on_load,
        }
        for name, hook in hooks.items():
            setattr(CPUCodeLibrary, name, classmethod(hook))

    def _keep(self, ll_module, buf: bytes) -> None:
        # CPUCodeLibrary stores itself on its final module as ``__library`` (name-mangled);
        # modules that are not a library's (Numba's helpers) have none and are skipped
        library = getattr(ll_module, "_CPUCodeLibrary__library", None)
        if library is not None:
            self.libraries[id(library)] = (library, bytes(buf))

    def write_table(self, workdir: Path) -> int:
        """Write each object file and ``functions.tsv`` (runtime address, size, object
        file, section, offset in the section, symbol); returns the number of functions."""
        rows = []
        for i, (library, buf) in enumerate(self.libraries.values()):
            obj = workdir / f"lib{i}.o"
            obj.write_bytes(buf)
            rows += _placed_functions(library, obj)
        rows.sort()
        with open(workdir / TABLE, "w") as f:
            for start, size, obj_name, section, offset, symbol in rows:
                f.write(f"{start:x}\t{size}\t{obj_name}\t{section}\t{offset:x}\t{symbol}\n")
        return len(rows)


def _placed_functions(library, obj: Path) -> list[tuple[int, int, str, str, int, str]]:
    """Every function symbol of ``obj`` at its runtime address.

    A library defines its own functions (GLOBAL) and carries WEAK copies of its callees,
    which the JIT's symbol lookup resolves to another library's copy. So the address of
    each section comes from a GLOBAL symbol's lookup, and every function in it, copies
    included, sits at that address plus its offset.
    """
    headers = _readelf("-SW", obj)
    sections = dict(re.findall(r"^\s*\[\s*(\d+)\]\s+(\S+)", headers, flags=re.M))
    symbols = []  # (section index, offset, size, binding, name)
    for line in _readelf("-sW", obj).splitlines():
        parts = line.split()
        if len(parts) >= 8 and parts[3] == "FUNC" and parts[6].isdigit():
            symbols.append((parts[6], int(parts[1], 16), int(parts[2]), parts[4], parts[7]))
    bases: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for index, offset, _, binding, name in symbols:
        if binding != "GLOBAL":
            continue
        try:
            address = library.get_pointer_to_function(name)
        except ReferenceError:  # a library discarded after compiling: none of it runs
            return []
        if address:
            bases[index][address - offset] += 1
    return [
        (bases[index].most_common(1)[0][0] + offset, size, obj.name, sections[index], offset, name)
        for index, offset, size, _, name in symbols
        if bases[index] and size > 0
    ]


def _readelf(option: str, obj: Path) -> str:
    return subprocess.run(
        ["readelf", option, str(obj)], capture_output=True, text=True, check=True
    ).stdout


def _case_call(case: str):
    """Build ``case`` as its benchmark does, on one thread, and call it once (which compiles
    or loads every kernel it uses); returns the call."""
    from . import bench_kernels
    from .workloads import full_model, threads

    if case == "hot":
        hot = bench_kernels.HotLoop()
        hot.setup(1)
        return lambda: hot.time_kernel(1)
    built = {case: full_model(case)}
    bench = bench_kernels.FullModel()
    bench.setup(built, case)  # runs the kernel on 2 paths
    threads(1)
    return lambda: bench.time_kernel(built, case)


def _child(workdir: Path, case: str, rounds: int) -> int:
    objects = ObjectCode()  # before guarantee_sim is imported
    call = _case_call(case)
    n_functions = objects.write_table(workdir)
    print(f"{case}: {len(objects.libraries)} libraries, {n_functions} functions", flush=True)
    # perf starts with its events disabled: sample the rounds only
    with open(workdir / CONTROL, "w") as control, open(workdir / ACK) as ack:
        control.write("enable\n")
        control.flush()
        ack.readline()
        start = time.process_time()
        for _ in range(rounds):
            call()
        cpu = time.process_time() - start
        control.write("disable\n")
        control.flush()
        ack.readline()
    print(f"{case}: {rounds} rounds, {cpu:.2f} s CPU ({cpu / rounds:.2f} s a round), 1 thread")
    return 0


# --------------------------------------------------------------------------- the parent


@dataclass(frozen=True)
class Function:
    """A jitted function's code: where it ran and where it is in its object file."""

    start: int
    size: int
    obj: Path
    section: str
    offset: int
    symbol: str

    @property
    def name(self) -> str:
        return short_name(self.symbol)


@dataclass
class Instruction:
    """One line of ``objdump``'s listing of a function."""

    offset: int  # in the function
    text: str
    target: str | None  # the symbol a relocation on it refers to (a callee, a constant)
    samples: int = 0

    @property
    def mnemonic(self) -> str:
        words = self.text.split()
        prefixes = {"lock", "rep", "repz", "repnz", "notrack", "bnd", "data16"}
        return next((w for w in words if w not in prefixes), "")


@dataclass
class Samples:
    """The rounds' samples: per jitted function copy, per instruction address, elsewhere."""

    total: int = 0
    by_function: collections.Counter = field(default_factory=collections.Counter)
    by_address: collections.Counter = field(default_factory=collections.Counter)
    elsewhere: collections.Counter = field(default_factory=collections.Counter)

    def by_name(self) -> collections.Counter:
        """Samples per ``module.function``, its copies and specialisations together."""
        counts: collections.Counter = collections.Counter()
        for function, n in self.by_function.items():
            counts[function.name] += n
        return counts


def short_name(symbol: str) -> str:
    """``module.function`` of a Numba symbol, e.g. ``_ZN13guarantee_sim7kernels11origination
    17originate_recordsB3v56B36c8...`` -> ``origination.originate_records``; Numba's
    ``cpython.`` and ``cfunc.`` wrappers keep that prefix; other symbols stay as they are."""
    prefix = ""
    if symbol.startswith("cfunc."):
        prefix, symbol = "cfunc:", symbol.removeprefix("cfunc.")
    if not symbol.startswith("_ZN"):
        return prefix + symbol
    parts, i = [], 3
    while (length := re.match(r"\d+", symbol[i:])) is not None:
        i += length.end()
        parts.append(symbol[i : i + int(length.group())])
        i += int(length.group())
    if parts[:1] == ["cpython"]:
        prefix, parts = "cpython:", parts[1:]
    return prefix + ".".join(parts[-2:]) if parts else symbol


def read_table(workdir: Path) -> list[Function]:
    functions = []
    for line in (workdir / TABLE).read_text().splitlines():
        start, size, obj, section, offset, symbol = line.split("\t")
        functions.append(
            Function(int(start, 16), int(size), workdir / obj, section, int(offset, 16), symbol)
        )
    return functions


def read_samples(data: Path, functions: list[Function]) -> Samples:
    """Attribute each sample to the jitted function whose code holds its address, or else
    to the symbol ``perf`` found (shared libraries, the interpreter, the OS kernel)."""
    starts = [f.start for f in functions]
    script = subprocess.run(
        ["perf", "script", "-i", str(data), "-F", "ip,sym,dso"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    samples = Samples()
    for line in script.splitlines():
        m = re.match(r"\s*([0-9a-f]+)\s+(.*?)\s*\(([^()]*)\)\s*$", line)
        if m is None:
            continue
        samples.total += 1
        ip = int(m.group(1), 16)
        i = bisect.bisect_right(starts, ip) - 1
        if i >= 0 and ip < functions[i].start + functions[i].size:
            samples.by_function[functions[i]] += 1
            samples.by_address[ip] += 1
        else:
            samples.elsewhere[m.group(2), os.path.basename(m.group(3))] += 1
    return samples


def disassemble(function: Function, samples: Samples | None = None) -> list[Instruction]:
    """The function's instructions (``objdump -d -r``), each with the symbol a relocation
    on it names and, given ``samples``, the samples that landed on it."""
    listing = subprocess.run(
        [
            "objdump", "-d", "-r", "--no-show-raw-insn", "-j", function.section,
            f"--start-address={function.offset}",
            f"--stop-address={function.offset + function.size}",
            str(function.obj),
        ],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    instructions: list[Instruction] = []
    for line in listing.splitlines():
        if m := re.match(r"\s+[0-9a-f]+: R_X86_64_\w+\s+(\S+)", line):
            if instructions:
                instructions[-1].target = re.sub(r"[+-]0x[0-9a-f]+$", "", m.group(1))
        elif m := re.match(r"\s+([0-9a-f]+):\s+(.*)", line):
            offset = int(m.group(1), 16) - function.offset
            instructions.append(Instruction(offset, _relative_jump(m.group(2), function), None))
    if samples is not None:
        offsets = [ins.offset for ins in instructions]
        for ip, n in samples.by_address.items():
            if function.start <= ip < function.start + function.size:
                i = bisect.bisect_right(offsets, ip - function.start) - 1
                instructions[max(i, 0)].samples += n
    return instructions


def _relative_jump(text: str, function: Function) -> str:
    """``jne 1b8b0 <_ZN13guarantee_sim...+0x740>`` -> ``jne 740``: a jump's target as an
    offset in the function, as the listing's second column shows them."""
    m = re.match(r"(.*?)([0-9a-f]+) <[^>]*>$", text.strip())
    if m is None:
        return text.strip()
    return f"{m.group(1)}{int(m.group(2), 16) - function.offset:x}"


def by_value_copies(instructions: list[Instruction]) -> list[tuple[str, int]]:
    """The calls preceded by more than ``MIN_WORDS`` pushes since the previous call:
    (callee, pushes). The callee is the call's relocation, or the last function address
    loaded before it (Numba's large code model: ``movabs $callee, %rax; call *%rax``)."""
    copies = []
    pushes, loaded = 0, None
    for ins in instructions:
        if ins.mnemonic.startswith("push"):
            pushes += 1
        elif ins.mnemonic.startswith("call"):
            callee = ins.target or loaded or "?"
            if pushes > MIN_WORDS:
                copies.append((short_name(callee), pushes))
            pushes, loaded = 0, None
        elif ins.target and not ins.target.startswith("."):  # not a constant's section
            loaded = ins.target
    return copies


def _hottest_copies(samples: Samples) -> dict[str, Function]:
    """For each ``module.function``, the copy (or specialisation) with the most samples."""
    hottest: dict[str, Function] = {}
    for function, _ in samples.by_function.most_common():
        hottest.setdefault(function.name, function)
    return hottest


def print_functions(samples: Samples, top_elsewhere: int = 10) -> None:
    by_name = samples.by_name()
    total = max(samples.total, 1)
    jitted = sum(by_name.values())
    print(f"\njitted functions, share of all {samples.total:,} samples in the rounds:")
    for name, n in by_name.most_common():
        if n / total >= 0.001:
            print(f"  {100 * n / total:5.1f}%  {name}")
    print(f"  {100 * jitted / total:5.1f}%  all jitted code")
    print("\nother symbols (not jitted):")
    for (symbol, dso), n in samples.elsewhere.most_common(top_elsewhere):
        print(f"  {100 * n / total:5.1f}%  {symbol[:70]}  ({dso})")


def print_copies(samples: Samples) -> None:
    print(f"\ncalls pushing more than {MIN_WORDS} words (functions with >= 1% of the samples):")
    hottest = _hottest_copies(samples)
    for name, n in samples.by_name().most_common():
        if n < MIN_SHARE * samples.total:
            break
        function = hottest[name]
        copies = by_value_copies(disassemble(function))
        listed = ", ".join(f"{callee} {pushes}" for callee, pushes in copies) or "none"
        print(f"  {name} ({function.size:,} bytes): {listed}")


def print_hot_instructions(samples: Samples, pattern: str, top: int) -> None:
    matches = [f for name, f in _hottest_copies(samples).items() if re.search(pattern, name)] or [
        f for f in samples.by_function if re.search(pattern, f.symbol)
    ]
    if not matches:
        print(f"\nno jitted function with samples matches {pattern!r}")
        return
    function = max(matches, key=lambda f: samples.by_function[f])
    instructions = disassemble(function, samples)
    n = samples.by_function[function]
    print(
        f"\n{function.name}: {n:,} samples ({100 * n / max(samples.total, 1):.1f}% of all) "
        f"in its hottest copy, {function.size:,} bytes ({function.obj.name} "
        f"{function.section}+{function.offset:#x}); its {top} hottest instructions:"
    )
    ranked = sorted(range(len(instructions)), key=lambda i: -instructions[i].samples)
    hot = {i for i in ranked[:top] if instructions[i].samples > 0}
    shown = sorted({j for i in hot for j in range(i - CONTEXT, i + CONTEXT + 1)})
    previous = None
    for j in shown:
        if not 0 <= j < len(instructions):
            continue
        if previous is None or j != previous + 1:
            print("  -----")
        ins = instructions[j]
        target = f"   <{short_name(ins.target)}>" if ins.target else ""
        mark = ">" if j in hot else " "
        print(f"  {mark}{ins.samples:6d} {ins.offset:6x}  {ins.text[:90]}{target}")
        previous = j


def _perf_refused(workdir: Path) -> str | None:
    """``perf``'s complaint if it cannot sample a process here, else None."""
    probe = subprocess.run(
        ["perf", "record", "-q", "-o", str(workdir / "probe.data"), "--", "true"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode == 0:
        return None
    lines = [line for line in probe.stderr.splitlines() if line.strip()]
    return "\n  ".join(lines[:4]) or f"exit status {probe.returncode}"


def _positive(text: str) -> int:
    if (n := int(text)) < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return n


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:  # run by perf record: --child DIR CASE ROUNDS
        return _child(Path(argv[1]), argv[2], int(argv[3]))

    from .workloads import FULL_MODEL

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("case", choices=["hot", *FULL_MODEL])
    parser.add_argument("--rounds", type=_positive, default=4, help="calls sampled (default 4)")
    parser.add_argument("--function", metavar="REGEX", help="show this function's hot code")
    parser.add_argument("--top", type=_positive, default=5, help="hot instructions shown")
    args = parser.parse_args(argv)

    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        print(
            f"jit_profile: {' and '.join(missing)} not found on the PATH "
            "(needed: perf, and binutils' objdump and readelf)"
        )
        return 2
    print(f"load average at start: {', '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    with tempfile.TemporaryDirectory(prefix="jit_profile-") as tmp:
        workdir = Path(tmp)
        if (refusal := _perf_refused(workdir)) is not None:
            print(
                "jit_profile: perf cannot sample here (see kernel.perf_event_paranoid, "
                f"or run with CAP_PERFMON):\n  {refusal}"
            )
            return 2
        for fifo in (CONTROL, ACK):
            os.mkfifo(workdir / fifo)
        data = workdir / "perf.data"
        record = subprocess.run(
            [
                "perf", "record", "-q", "-F", str(SAMPLING_HZ), "-D", "-1",
                "--control", f"fifo:{workdir / CONTROL},{workdir / ACK}", "-o", str(data),
                "--", sys.executable, "-m", "benchmarks.jit_profile",
                "--child", tmp, args.case, str(args.rounds),
            ],
            cwd=ROOT, check=False,
        )  # fmt: skip
        if record.returncode != 0:
            print(f"jit_profile: the profiled run failed (exit status {record.returncode})")
            return 1
        samples = read_samples(data, read_table(workdir))
        print_functions(samples)
        print_copies(samples)
        if args.function:
            print_hot_instructions(samples, args.function, args.top)
    print(f"\nload average at end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
