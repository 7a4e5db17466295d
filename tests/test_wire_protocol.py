"""The wire protocol: CRC and COBS against published vectors, every message round-trips through the
streaming parser however the bytes are chunked, and the parser survives random and mutated input,
rejecting and counting what is not a frame.

CI runs a few thousand frames; a soak scales the fuzzing examples:
``LEGFLOW_FUZZ=100000 python -m pytest tests/test_wire_protocol.py -k fuzz`` (or, with a rate and
counts report, ``python -m benchmarks.wire_fuzz --frames 100000``).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from legflow.device.wire import messages as m
from legflow.device.wire.framing import (
    CRC,
    HEADER,
    MAX_ENCODED,
    MAX_PAYLOAD,
    Frame,
    FrameParser,
    cobs_decode,
    cobs_encode,
    crc16,
    encode_frame,
    pack_frame,
)

DOCS = Path(__file__).parent.parent / "docs" / "protocol.md"
#: Fuzzing examples: a few hundred in CI (each a stream of up to 12 frames), more for a soak.
FUZZ_EXAMPLES = max(1, int(os.environ.get("LEGFLOW_FUZZ", "8000")) // 8)
fuzz_settings = settings(
    max_examples=FUZZ_EXAMPLES, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

u8, u16, u32 = st.integers(0, 0xFF), st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF)
i16 = st.integers(-32768, 32767)
ascii_name = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_. ", max_size=32)


@st.composite
def commands(draw):
    legs, cells = draw(st.integers(1, m.MAX_LEGS)), draw(st.integers(1, m.MAX_CELLS))
    duty = st.integers(0, 255).map(lambda k: k / 255)
    zones = st.sets(st.sampled_from(m.ROLLER_ZONES)).map(lambda z: tuple(x for x in m.ROLLER_ZONES if x in z))
    tail = draw(st.booleans())  # the roller tail, for a device that announced it
    return m.Command(
        draw(u32), tuple(draw(st.lists(st.booleans(), min_size=cells, max_size=cells))),
        tuple(draw(st.lists(st.booleans(), min_size=cells, max_size=cells))),
        *(tuple(draw(st.lists(duty, min_size=legs, max_size=legs))) for _ in range(3)),
        tuple(draw(st.lists(u8, min_size=legs, max_size=legs))),
        tuple(draw(st.lists(zones, min_size=legs, max_size=legs))) if tail else None,
        tuple(draw(st.lists(st.booleans(), min_size=legs, max_size=legs))) if tail else None,
    )  # fmt: skip


@st.composite
def samples(draw):
    legs, cells = draw(st.integers(1, m.MAX_LEGS)), draw(st.integers(1, m.MAX_CELLS))

    def per(n: int, scale: int) -> tuple[float, ...]:
        return tuple(k / scale for k in draw(st.lists(i16, min_size=n, max_size=n)))

    return m.SensorSample(
        draw(u32), draw(u32), draw(u32), draw(st.booleans()), draw(st.booleans()), per(cells, 10),
        per(legs, 10), per(legs, 100), per(legs, 1000), per(legs, 1000), per(legs, 1000),
    )  # fmt: skip


@st.composite
def capabilities(draw):
    cells = draw(st.integers(1, 16))
    trips = tuple(k / 10 for k in draw(st.lists(u16, min_size=cells, max_size=cells)))
    heater = draw(st.none() | st.integers(1, 0xFFFF).map(lambda k: k / 10))
    return m.Capabilities(
        draw(u8), draw(ascii_name), draw(st.integers(1, 2)), cells, draw(st.booleans()), draw(st.booleans()),
        draw(u8), draw(u16), draw(u16), heater, trips, draw(ascii_name), draw(st.booleans()),
        draw(st.booleans()),
    )  # fmt: skip


any_message = st.one_of(
    st.builds(m.Hello, u8, u16),
    commands(),
    st.builds(m.Heartbeat, u32),
    st.just(m.Safe()),
    st.builds(m.Safe, st.just(True), u8),
    st.just(m.Reset()),
    capabilities(),
    samples(),
    st.builds(m.Fault, u8, u8, u32, i16),
    st.builds(m.Ack, u16, u8),
    st.builds(m.Nack, u16, u8, u8),
)


def chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


# --- CRC and COBS --------------------------------------------------------------------------------
def test_crc16_is_ccitt_false():
    assert crc16(b"123456789") == 0x29B1
    assert crc16(b"") == 0xFFFF


@pytest.mark.parametrize(
    "raw, stuffed",
    [  # the examples of Cheshire & Baker's COBS (as in its Wikipedia article)
        ("00", "0101"),
        ("0000", "010101"),
        ("001100", "01021101"),
        ("11220033", "0311220233"),
        ("11223344", "0511223344"),
        ("11000000", "0211010101"),
        (bytes(range(1, 255)).hex(), "ff" + bytes(range(1, 255)).hex()),
        ("00" + bytes(range(1, 255)).hex(), "01ff" + bytes(range(1, 255)).hex()),
        (bytes(range(1, 256)).hex(), "ff" + bytes(range(1, 255)).hex() + "02ff"),
        (bytes(range(2, 256)).hex() + "00", "ff" + bytes(range(2, 256)).hex() + "0101"),
        (bytes(range(3, 256)).hex() + "0001", "fe" + bytes(range(3, 256)).hex() + "0201"),
    ],
)
def test_cobs_matches_the_published_examples(raw, stuffed):
    assert cobs_encode(bytes.fromhex(raw)).hex() == stuffed
    assert cobs_decode(bytes.fromhex(stuffed)).hex() == raw


@given(st.binary(max_size=700))
def test_cobs_round_trips_and_never_emits_a_zero(data):
    stuffed = cobs_encode(data)
    assert 0 not in stuffed and cobs_decode(stuffed) == data
    assert len(stuffed) <= len(data) + 1 + len(data) // 254


def test_a_largest_frame_grows_by_one_byte():
    wire = encode_frame(0x82, 7, bytes(range(1, MAX_PAYLOAD + 1)))
    assert len(wire) == MAX_ENCODED + 1 and wire[-1] == 0
    with pytest.raises(ValueError, match="over the 240-byte limit"):
        encode_frame(0x82, 0, bytes(MAX_PAYLOAD + 1))


# --- messages -----------------------------------------------------------------------------------
@given(any_message, u16, st.lists(st.integers(0, 400), max_size=6))
def test_every_message_round_trips_through_the_parser_in_any_chunks(message, seq, cuts):
    parser = FrameParser()
    frames = [f for part in chunks(m.encode(message, seq), cuts) for f in parser.feed(part)]
    assert frames == [Frame(message.TYPE, seq, message.pack())]
    assert m.decode(frames[0]) == message
    assert parser.counters.rejected == 0 and parser.counters.frames == 1


@given(st.lists(any_message, min_size=1, max_size=20), st.lists(st.integers(0, 5000), max_size=20))
def test_a_stream_of_messages_arrives_whole_and_in_order(messages, cuts):
    tx, parser = m.Sequencer(), FrameParser()
    stream = b"".join(tx.frame(msg)[1] for msg in messages)
    got = [m.decode(f) for part in chunks(stream, cuts) for f in parser.feed(part)]
    assert got == messages
    assert parser.counters.seq_gaps == 0 and parser.counters.frames == len(messages)


def test_sequence_gaps_are_counted():
    parser = FrameParser()
    for seq in (0, 1, 5, 6, 0xFFFF, 0):
        parser.feed(m.encode(m.Heartbeat(seq), seq))
    assert parser.counters.seq_gaps == 2 and parser.counters.frames == 6


def test_values_are_quantised_to_their_wire_units():
    msg = m.SensorSample(
        1, 2, 3, True, False, (12.34, -5.06), (100.0,), (36.789,), (0.1234,), (0.0,), (-0.0004,)
    )
    back = m.decode(FrameParser().feed(m.encode(msg, 0))[0])
    assert back.pressure_mmHg == (12.3, -5.1) and back.skin_temp_C == (36.79,)
    assert back.pump_current_A == (0.123,) and back.vibration_current_A == (-0.0,)
    command = m.Command(1, (True,), (False,), (1.7,), (0.5,), (-1.0,), (9,))
    assert m.Command.unpack(command.pack()).pump_duty == (1.0,)  # duties clamp to 0..1
    assert m.Command.unpack(command.pack()).roller_speed == (0.0,)


def test_the_heater_current_tail_of_a_sample_is_optional():
    base = m.SensorSample(1, 2, 3, False, True, (10.0,), (5.0,), (33.0,), (0.2,), (0.0,), (0.0,))
    assert m.SensorSample.unpack(base.pack()) == base and base.heater_current_A is None
    tail = m.SensorSample(
        1, 2, 3, False, True, (10.0,), (5.0,), (33.0,), (0.2,), (0.0,), (0.0,), False, (0.54,)
    )
    back = m.SensorSample.unpack(tail.pack())
    assert back.heater_current_A == (0.54,) and len(tail.pack()) == len(base.pack()) + 2
    assert list(m.sample_arrays(back)["heater_current_A"]) == [0.54]
    with pytest.raises(m.MessageError, match="SENSORS"):  # the flag without its tail
        m.SensorSample.unpack(tail.pack()[:-2])


def test_the_roller_tail_of_a_command_is_optional_and_strict():
    base = m.Command(7, (True, False), (False, True), (0.6,), (0.0,), (0.6,), (0,))
    assert m.Command.unpack(base.pack()) == base and base.roller_zones is None  # a v1 COMMAND
    tail = m.Command(
        7, (True, False), (False, True), (0.6,), (0.0,), (0.6,), (0,), (("sole.heel",),), (True,)
    )
    assert tail.pack() == base.pack() + bytes([0b001000, 1]) and m.Command.unpack(tail.pack()) == tail
    zones, deep = m.Command.unpack(tail.pack()).roller_arrays(1)
    assert list(zones[0]) == [z == "sole.heel" for z in m.ROLLER_ZONES] and list(deep) == [True]
    for bad in (bytes([0b1000000, 0]), bytes([1, 2]), bytes([1])):  # a 7th zone, a flag, half a tail
        with pytest.raises(m.MessageError, match="COMMAND"):
            m.Command.unpack(base.pack() + bad)


def test_the_host_sends_the_roller_tail_only_to_a_device_that_reads_it():
    caps = m.Capabilities(1, "reference", 2, 5, True, True, 5, 500, 100, 44.0, (110.0,) * 5, "fw", True)
    assert m.Capabilities.unpack(caps.pack()).roller_zones and caps.pack()[3] == 0b111  # features
    old = m.Capabilities(1, "reference", 2, 5, True, True, 5, 500, 100, 44.0, (110.0,) * 5, "fw")
    assert not m.Capabilities.unpack(old.pack()).roller_zones


@given(st.sampled_from(sorted(m.MESSAGES)), st.binary(max_size=MAX_PAYLOAD))
def test_a_malformed_payload_is_a_message_error_never_a_crash(msg_type, payload):
    try:
        message = m.decode(Frame(msg_type, 0, payload))
    except m.MessageError:
        return
    assert message.pack() == payload or isinstance(message, m.Command | m.SensorSample)


def test_an_unknown_type_is_a_message_error():
    with pytest.raises(m.MessageError, match="unknown message type 0x42"):
        m.decode(Frame(0x42, 0, b""))


# --- the parser under bad input ------------------------------------------------------------------
def _restuff(raw: bytes) -> bytes:
    return cobs_encode(raw) + b"\x00"


def test_bad_crc_and_bad_length_are_rejected_and_counted():
    good = pack_frame(m.MsgType.HEARTBEAT, 3, m.Heartbeat(99).pack())
    flipped = bytearray(good)
    flipped[6] ^= 0x10
    body = HEADER.pack(1, m.MsgType.HEARTBEAT, 4, 9) + m.Heartbeat(99).pack()  # says 9, carries 4
    lying = body + CRC.pack(crc16(body))
    parser = FrameParser()
    stream = _restuff(bytes(flipped)) + _restuff(lying) + _restuff(good[:5]) + b"\x07" * 600 + b"\x00"
    assert parser.feed(stream + _restuff(good)) == [Frame(m.MsgType.HEARTBEAT, 3, m.Heartbeat(99).pack())]
    c = parser.counters
    assert (c.bad_crc, c.bad_length, c.overruns, c.frames) == (1, 2, 1, 1)
    assert c.rejected == 4


def test_a_frame_of_another_version_is_counted_and_remembered():
    parser = FrameParser()
    assert parser.feed(encode_frame(m.MsgType.CAPABILITIES, 0, b"", version=2)) == []
    assert parser.counters.bad_version == 1 and parser.other_version == 2


MUTATIONS = ("none", "flip1", "flip3", "truncate", "extend", "delete", "insert", "zero", "lie", "garbage")


@st.composite
def mutated(draw):
    """A valid frame and one mutation of it; ``must`` says what the parser must do with it."""
    message, seq = draw(any_message), draw(u16)
    raw = bytearray(pack_frame(message.TYPE, seq, message.pack()))
    kind = draw(st.sampled_from(MUTATIONS))
    must = "reject"
    if kind == "none":
        must = "accept"
    elif kind in ("flip1", "flip3"):  # CRC-16/CCITT catches any 1 to 3 flipped bits in a frame this short
        most = 1 if kind == "flip1" else 3
        bits = draw(st.sets(st.integers(0, 8 * len(raw) - 1), min_size=1, max_size=most))
        for b in bits:
            raw[b // 8] ^= 1 << (b % 8)
    elif kind == "truncate":
        del raw[draw(st.integers(0, len(raw) - 1)) :]
    elif kind == "extend":
        raw += draw(st.binary(min_size=1, max_size=300))
        must = "any"  # rarely, random bytes complete a valid CRC
    elif kind == "delete":
        del raw[draw(st.integers(0, len(raw) - 1))]
        must = "any"
    elif kind == "insert":
        raw.insert(draw(st.integers(0, len(raw))), draw(u8))
        must = "any"
    elif kind == "lie":  # a correct CRC over a wrong length field
        raw[4] = (raw[4] + draw(st.integers(1, 255))) & 0xFF
        raw[-2:] = CRC.pack(crc16(bytes(raw[:-2])))
    if kind == "garbage":  # bytes straight on the wire, not stuffed
        return draw(st.binary(min_size=1, max_size=400)) + b"\x00", "any", None
    wire = _restuff(bytes(raw))
    if kind == "zero":  # a zero byte inside the stuffed frame splits it
        at = draw(st.integers(0, len(wire) - 2))
        wire = wire[:at] + b"\x00" + wire[at + 1 :]
        must = "any"
    return wire, must, (message, seq)


@pytest.mark.slow
@fuzz_settings
@given(st.lists(st.tuples(mutated(), st.lists(st.integers(0, 1000), max_size=4)), min_size=1, max_size=12))
def test_fuzz_mutated_frames_are_rejected_and_counted_never_a_crash(items):
    parser = FrameParser()
    for (wire, must, original), cuts in items:
        before = parser.counters.frames + parser.counters.rejected
        frames = [f for part in chunks(wire, cuts) for f in parser.feed(part)]
        outcomes = parser.counters.frames + parser.counters.rejected - before
        # every non-empty run of bytes before a zero is one frame or one counted rejection
        assert outcomes == len([s for s in wire.split(b"\x00")[:-1] if s])
        if must == "accept":
            message, seq = original
            assert frames == [Frame(message.TYPE, seq, message.pack())] and outcomes == 1
        elif must == "reject":
            assert frames == []
        for frame in frames:
            try:
                m.decode(frame)
            except m.MessageError:
                parser.counters.bad_message += 1


@pytest.mark.slow
@fuzz_settings
@given(st.binary(max_size=2000), st.lists(st.integers(0, 2000), max_size=10))
def test_fuzz_random_bytes_never_crash_the_parser(data, cuts):
    parser = FrameParser()
    for part in chunks(data, cuts):
        for frame in parser.feed(part):
            assert len(frame.payload) <= MAX_PAYLOAD
            with contextlib.suppress(m.MessageError):
                m.decode(frame)
    assert parser.counters.bytes == len(data)


# --- the examples in docs/protocol.md ------------------------------------------------------------
def _doc_examples() -> list[tuple[str, int, str, str]]:
    text = DOCS.read_text(encoding="utf-8")
    found = re.findall(
        r"message: (.+)\nseq: (\d+)\nframe: ([0-9a-f ]+)\nwire: ([0-9a-f ]+)\n", text, flags=re.MULTILINE
    )
    return [(expr, int(seq), f.replace(" ", ""), w.replace(" ", "")) for expr, seq, f, w in found]


def test_the_docs_have_an_example_of_every_message():
    names = {expr.split("(")[0] for expr, *_ in _doc_examples()}
    assert names == {cls.__name__ for cls in m.MESSAGES.values()}


@pytest.mark.parametrize("expr, seq, frame, wire", _doc_examples())
def test_each_example_in_the_docs_is_what_the_code_sends_and_reads(expr, seq, frame, wire):
    message = eval(expr, {name: getattr(m, name) for name in dir(m)})  # the docs' own spelling
    assert pack_frame(message.TYPE, seq, message.pack()).hex() == frame
    assert m.encode(message, seq).hex() == wire
    (decoded,) = FrameParser().feed(bytes.fromhex(wire))
    assert m.decode(decoded) == message and decoded.seq == seq
    assert struct.unpack_from("<H", bytes.fromhex(frame), len(frame) // 2 - 2)[0] == crc16(
        bytes.fromhex(frame)[:-2]
    )
