#!/usr/bin/env python3
"""Compare what landed in Kafka with what mqtt-load published.

usage: kafka_check.py EXPECTED.tsv KCAT.out [--exact]
       kafka_check.py EXPECTED.tsv LINES.txt --hex-lines   (a `mosquitto_sub -F %x | kcat -P`
                      pipeline: one hex payload per line; counts distinct payloads found)

KCAT.out is the output of
  kcat -C -e -o beginning -f '%K %S %p %o |%h|\\n%k%s\\n'
which keeps binary keys and payloads intact (lengths first). Prints one line
  expected=N got=M missing=X duplicates=D unexpected=U order_errors=O header_errors=H
and exits 0 when nothing is missing or unexpected, headers are right and, per key, no message
shows up for the first time before an older one (payload "<dev>:<seq>|"); --exact also
requires no duplicates and strictly increasing order per key."""
import sys
from collections import Counter, defaultdict


def read_kcat(path):
    data = open(path, 'rb').read()
    out, i = [], 0
    while i < len(data):
        nl = data.index(b'\n', i)
        head = data[i:nl].decode('latin1')
        i = nl + 1
        meta, _, hdrs = head.partition(' |')
        hdrs = hdrs[:-1] if hdrs.endswith('|') else hdrs
        klen, plen, part, off = (int(x) for x in meta.split())
        key = data[i:i + max(klen, 0)]
        i += max(klen, 0)
        val = data[i:i + max(plen, 0)]
        i += max(plen, 0)
        assert data[i:i + 1] == b'\n', 'kcat output out of step at byte %d' % i
        i += 1
        h = dict(kv.split('=', 1) for kv in hdrs.split(',') if '=' in kv)
        out.append((int(part), int(off), key if klen >= 0 else None, val if plen >= 0 else None, h))
    return out


def hex_lines(exp_path, got_path):
    expected = Counter()
    for line in open(exp_path):
        expected[bytes.fromhex(line.rstrip('\n').split('\t')[2])] += 1
    seen = Counter()
    unexpected = 0
    for line in open(got_path, 'rb'):
        line = line.strip()
        if not line:
            continue
        try:
            p = bytes.fromhex(line.decode())
        except ValueError:
            unexpected += 1
            continue
        if p in expected:
            seen[p] += 1
        else:
            unexpected += 1
    missing = sum(max(0, n - seen[r]) for r, n in expected.items())
    dups = sum(max(0, seen[r] - n) for r, n in expected.items())
    print('expected=%d missing=%d duplicates=%d unexpected=%d'
          % (sum(expected.values()), missing, dups, unexpected))
    sys.exit(0 if missing == 0 and unexpected == 0 else 1)


def main():
    exp_path, got_path = sys.argv[1], sys.argv[2]
    if '--hex-lines' in sys.argv:
        hex_lines(exp_path, got_path)
    exact = '--exact' in sys.argv
    expected = Counter()
    topic_of = {}
    for line in open(exp_path):
        topic, k, p = line.rstrip('\n').split('\t')
        rec = (bytes.fromhex(k), bytes.fromhex(p))
        expected[rec] += 1
        topic_of[rec] = topic
    got = read_kcat(got_path)
    seen = Counter()
    unexpected = header_errors = order_errors = 0
    last = defaultdict(lambda: -1)
    first_max = defaultdict(lambda: -1)
    first_order_errors = 0
    for part, off, key, val, h in sorted(got, key=lambda r: (r[0], r[1])):
        rec = (key or b'', val or b'')
        if rec not in expected:
            unexpected += 1
            continue
        seen[rec] += 1
        seq = int(val.split(b'|', 1)[0].split(b':')[1])
        if seen[rec] == 1:
            # Duplicates may repeat old messages, but a message seen for the first time must
            # never come before an older one of the same key.
            if seq < first_max[key]:
                first_order_errors += 1
            first_max[key] = max(first_max[key], seq)
        if h.get('mqtt.topic') != topic_of[rec] or h.get('mqtt.qos') != '1' or h.get('mqtt.retain') != '0':
            header_errors += 1
        if seq <= last[key]:
            order_errors += 1
        last[key] = seq
    missing = sum(max(0, n - seen[r]) for r, n in expected.items())
    dups = sum(max(0, seen[r] - n) for r, n in expected.items())
    print('expected=%d got=%d missing=%d duplicates=%d unexpected=%d order_errors=%d '
          'first_order_errors=%d header_errors=%d'
          % (sum(expected.values()), len(got), missing, dups, unexpected, order_errors,
             first_order_errors, header_errors))
    ok = missing == 0 and unexpected == 0 and header_errors == 0 and first_order_errors == 0
    if exact:
        ok = ok and dups == 0 and order_errors == 0
    sys.exit(0 if ok else 1)


main()
