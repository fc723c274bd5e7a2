#!/usr/bin/env python3
"""memgrep.py PID NEEDLE...: exit 0 if any NEEDLE occurs in the process's writable memory
(heap, stacks, anonymous maps: where received bytes would sit), else 1. Reads
/proc/PID/mem, so the caller needs ptrace rights over PID (root, or the same user with
ptrace_scope 0). Prints where a needle was found."""
import sys

CHUNK = 16 << 20


def main():
    pid = int(sys.argv[1])
    needles = [n.encode() for n in sys.argv[2:]]
    found = False
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            parts = line.split()
            perms = parts[1]
            if "r" not in perms or "w" not in perms:
                continue
            name = parts[5] if len(parts) > 5 else ""
            if name.startswith("[v"):  # [vvar], [vsyscall]
                continue
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if hi - lo > 1 << 30:  # reserved address space (sanitizers), not data
                continue
            keep = max(len(n) for n in needles) - 1
            tail = b""
            for at in range(lo, hi, CHUNK):
                try:
                    mem.seek(at)
                    data = tail + mem.read(min(CHUNK, hi - at))
                except OSError:
                    break
                for n in needles:
                    if n in data:
                        print(f"{n.decode(errors='replace')!r} found in {parts[0]} {name}")
                        found = True
                tail = data[-keep:] if keep else b""
    return 0 if found else 1


if __name__ == "__main__":
    sys.exit(main())
