"""Soak the wire protocol's frame parser: random valid messages, each sent clean or mutated (bit
flips, truncation, extension, deleted or inserted bytes, a zero inside, a lying length field with
a good CRC, raw garbage), fed in random chunks. Checks that nothing raises, that every run of bytes
before a zero is one frame or one counted rejection, that clean frames come through whole and that
1-3 flipped bits, truncations and lying lengths are always rejected. Prints frames/s and counts.

    python -m benchmarks.wire_fuzz --frames 100000 [--seed 1]

Exits 1 if any check fails. Wall time is measured with ``time.perf_counter``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter

from legflow.device.wire import messages as m
from legflow.device.wire.framing import CRC, MAX_PAYLOAD, Frame, FrameParser, cobs_encode, crc16, pack_frame

KINDS = ("none", "flip1", "flip3", "truncate", "extend", "delete", "insert", "zero", "lie", "garbage")
MUST_REJECT = {"flip1", "flip3", "truncate", "lie"}


def random_message(r: random.Random) -> m.Message:
    """One message of a random type with random (valid) fields."""
    legs, cells = r.randint(1, 2), r.randint(1, 32)
    u32 = lambda: r.getrandbits(32)  # noqa: E731
    i16s = lambda n, scale: tuple(r.randint(-32768, 32767) / scale for _ in range(n))  # noqa: E731
    duties = lambda: tuple(r.randint(0, 255) / 255 for _ in range(legs))  # noqa: E731
    bools = lambda n: tuple(r.random() < 0.5 for _ in range(n))  # noqa: E731
    name = lambda: "".join(r.choice("abcdefgh-0123") for _ in range(r.randint(0, 32)))  # noqa: E731
    kind = r.randrange(10)
    if kind == 0:
        return m.Hello(r.randint(0, 255), r.randint(0, 0xFFFF))
    if kind == 1:
        vib = tuple(r.randint(0, 255) for _ in range(legs))
        return m.Command(u32(), bools(cells), bools(cells), duties(), duties(), duties(), vib)
    if kind == 2:
        return m.Heartbeat(u32())
    if kind == 3:
        return m.Safe() if r.random() < 0.5 else m.Reset()
    if kind == 4:
        per_leg = r.randint(1, 16)
        trips = tuple(r.randint(0, 0xFFFF) / 10 for _ in range(per_leg))
        heater = None if r.random() < 0.3 else r.randint(1, 0xFFFF) / 10
        return m.Capabilities(r.randint(0, 255), name(), legs, per_leg, r.random() < 0.5, r.random() < 0.5,
                              r.randint(0, 255), r.randint(0, 0xFFFF), r.randint(0, 0xFFFF), heater, trips,
                              name())  # fmt: skip
    if kind in (5, 6, 7):  # the stream is mostly samples
        return m.SensorSample(u32(), u32(), u32(), r.random() < 0.5, r.random() < 0.5, i16s(cells, 10),
                              i16s(legs, 10), i16s(legs, 100), i16s(legs, 1000), i16s(legs, 1000),
                              i16s(legs, 1000))  # fmt: skip
    if kind == 8:
        return m.Fault(r.randint(0, 255), r.randint(0, 255), u32(), r.randint(-32768, 32767))
    return (
        m.Ack(r.randint(0, 0xFFFF), r.randint(0, 255))
        if r.random() < 0.5
        else m.Nack(r.randint(0, 0xFFFF), r.randint(0, 255), r.randint(0, 255))
    )


def mutate(r: random.Random, raw: bytes, kind: str) -> bytes:
    """The bytes on the wire for one frame after one mutation."""
    b = bytearray(raw)
    if kind in ("flip1", "flip3"):
        for bit in r.sample(range(8 * len(b)), 1 if kind == "flip1" else r.randint(2, 3)):
            b[bit // 8] ^= 1 << (bit % 8)
    elif kind == "truncate":
        del b[r.randrange(len(b)) :]
    elif kind == "extend":
        b += r.randbytes(r.randint(1, 300))
    elif kind == "delete":
        del b[r.randrange(len(b))]
    elif kind == "insert":
        b.insert(r.randint(0, len(b)), r.randrange(256))
    elif kind == "lie":
        b[4] = (b[4] + r.randint(1, 255)) & 0xFF
        b[-2:] = CRC.pack(crc16(bytes(b[:-2])))
    elif kind == "garbage":
        return r.randbytes(r.randint(1, 400)) + b"\x00"
    wire = cobs_encode(bytes(b)) + b"\x00"
    if kind == "zero":
        at = r.randrange(len(wire) - 1)
        wire = wire[:at] + b"\x00" + wire[at + 1 :]
    return wire


def soak(frames: int, seed: int) -> tuple[dict[str, int], Counter, list[str], float]:
    r = random.Random(seed)
    parser = FrameParser()
    kinds: Counter = Counter()
    failures: list[str] = []
    elapsed = 0.0
    for i in range(frames):
        message = random_message(r)
        payload = message.pack()
        assert len(payload) <= MAX_PAYLOAD
        seq = r.getrandbits(16)
        raw = pack_frame(message.TYPE, seq, payload)
        kind = "none" if r.random() < 0.3 else r.choice(KINDS[1:])
        kinds[kind] += 1
        wire = mutate(r, raw, kind)
        cuts = sorted(r.randrange(len(wire) + 1) for _ in range(r.randint(0, 3)))
        before = parser.counters.frames + parser.counters.rejected
        start = time.perf_counter()
        got = []
        for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True):
            got += parser.feed(wire[a:b])
        for frame in got:
            try:
                m.decode(frame)
            except m.MessageError:
                parser.counters.bad_message += 1
        elapsed += time.perf_counter() - start
        outcomes = parser.counters.frames + parser.counters.rejected - before
        if outcomes != len([s for s in wire.split(b"\x00")[:-1] if s]):
            failures.append(f"frame {i} ({kind}): {outcomes} outcomes for its byte runs")
        if kind == "none" and got != [Frame(message.TYPE, seq, payload)]:
            failures.append(f"frame {i}: a clean frame did not come through")
        if kind in MUST_REJECT and got:
            failures.append(f"frame {i} ({kind}): a corrupted frame was accepted")
        if kind not in MUST_REJECT and kind != "none" and got:
            kinds["accepted_after_" + kind] += 1
    return parser.counters.as_dict(), kinds, failures, elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    counters, kinds, failures, elapsed = soak(args.frames, args.seed)
    print(f"{args.frames} frames in {elapsed:.2f} s of parsing: {args.frames / elapsed:,.0f} frames/s")
    print("mutations: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    print("parser:    " + ", ".join(f"{k} {v}" for k, v in counters.items()))
    for failure in failures[:20]:
        print("FAIL", failure)
    print(f"{len(failures)} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
