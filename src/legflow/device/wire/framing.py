"""Framing of the legflow wire protocol: COBS-stuffed frames, each ended by one zero byte, with a
CRC-16 over the header and payload (docs/protocol.md).

A frame before stuffing::

    version u8 | type u8 | seq u16 | length u8 | payload (length bytes) | crc u16

All integers are little-endian. The CRC is CRC-16/CCITT-FALSE (polynomial 0x1021, initial value
0xFFFF, no reflection, no final XOR) over every byte before it. A frame is at most 247 bytes, so
COBS adds exactly one byte and a microcontroller needs one 249-byte receive buffer.

`FrameParser` takes bytes as they arrive, in any chunks, and counts every frame it throws away.
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import asdict, dataclass

PROTOCOL_VERSION = 1
HEADER = struct.Struct("<BBHB")
CRC = struct.Struct("<H")
MAX_PAYLOAD = 240
#: Largest frame before stuffing, and its stuffed size without the zero delimiter.
MAX_FRAME = HEADER.size + MAX_PAYLOAD + CRC.size
MAX_ENCODED = MAX_FRAME + 1
DELIMITER = b"\x00"


class FramingError(ValueError):
    """Bytes that are not a frame (bad stuffing, length or CRC)."""


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: the check value of b"123456789" is 0x29B1."""
    return binascii.crc_hqx(data, 0xFFFF)


def cobs_encode(data: bytes) -> bytes:
    """Consistent Overhead Byte Stuffing: the result holds no zero byte."""
    out = bytearray()
    blocks = data.split(b"\x00")
    for i, block in enumerate(blocks):
        last = i == len(blocks) - 1
        while len(block) >= 254:
            out.append(0xFF)
            out += block[:254]
            block = block[254:]
            if last and not block:  # a full block at the very end needs no code for a zero
                return bytes(out)
        out.append(len(block) + 1)
        out += block
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        code = data[i]
        if code == 0:
            raise FramingError("zero byte inside a stuffed frame")
        j = i + code
        if j > n:
            raise FramingError("stuffed frame ends inside a block")
        out += data[i + 1 : j]
        if code < 0xFF and j < n:
            out.append(0)
        i = j
    return bytes(out)


@dataclass(frozen=True)
class Frame:
    """One checked frame: its message type, sequence number and payload."""

    type: int
    seq: int
    payload: bytes
    version: int = PROTOCOL_VERSION


def pack_frame(msg_type: int, seq: int, payload: bytes, version: int = PROTOCOL_VERSION) -> bytes:
    """The raw frame (before stuffing): header, payload and CRC."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes is over the {MAX_PAYLOAD}-byte limit")
    body = HEADER.pack(version, msg_type, seq & 0xFFFF, len(payload)) + payload
    return body + CRC.pack(crc16(body))


def encode_frame(msg_type: int, seq: int, payload: bytes, version: int = PROTOCOL_VERSION) -> bytes:
    """The frame as it goes on the wire: stuffed, then the zero delimiter."""
    return cobs_encode(pack_frame(msg_type, seq, payload, version)) + DELIMITER


@dataclass
class LinkCounters:
    """What a receiver saw: good frames and every kind of frame it threw away."""

    frames: int = 0
    bytes: int = 0
    bad_cobs: int = 0
    bad_length: int = 0
    bad_crc: int = 0
    overruns: int = 0
    bad_version: int = 0
    seq_gaps: int = 0
    #: Frames that passed the CRC but whose message was unknown or malformed (counted by its user).
    bad_message: int = 0

    @property
    def rejected(self) -> int:
        return self.bad_cobs + self.bad_length + self.bad_crc + self.overruns + self.bad_version

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class FrameParser:
    """Turns a byte stream into checked frames. Never raises on bad input: it counts and resyncs
    at the next zero byte. Frames of another protocol version are counted and dropped, and the last
    such version (and the type of that frame) is kept so that either side can say what it heard."""

    def __init__(self, version: int = PROTOCOL_VERSION):
        self.version = version
        self.counters = LinkCounters()
        self.other_version: int | None = None
        self.other_type: int | None = None
        self._buf = bytearray()
        self._overrun = False
        self._last_seq: int | None = None

    def feed(self, data: bytes) -> list[Frame]:
        frames: list[Frame] = []
        self.counters.bytes += len(data)
        parts = bytes(data).split(DELIMITER)
        for k, part in enumerate(parts):
            if k < len(parts) - 1:
                frame = self._end(part)
                if frame is not None:
                    frames.append(frame)
            elif not self._overrun:
                self._buf += part
                if len(self._buf) > MAX_ENCODED:
                    self._overrun = True  # drop everything up to the next delimiter
                    self._buf.clear()
        return frames

    def _end(self, tail: bytes) -> Frame | None:
        """A delimiter arrived: check what came before it."""
        if self._overrun:
            self._overrun = False
            self.counters.overruns += 1
            return None
        stuffed = bytes(self._buf) + tail if self._buf else tail
        self._buf.clear()
        if not stuffed:
            return None  # idle delimiters between frames are allowed
        if len(stuffed) > MAX_ENCODED:
            self.counters.overruns += 1
            return None
        try:
            frame = check_frame(cobs_decode(stuffed))
        except _BadLength:
            self.counters.bad_length += 1
            return None
        except _BadCrc:
            self.counters.bad_crc += 1
            return None
        except FramingError:
            self.counters.bad_cobs += 1
            return None
        if frame.version != self.version:
            self.counters.bad_version += 1
            self.other_version, self.other_type = frame.version, frame.type
            return None
        if self._last_seq is not None and frame.seq != (self._last_seq + 1) & 0xFFFF:
            self.counters.seq_gaps += 1
        self._last_seq = frame.seq
        self.counters.frames += 1
        return frame


class _BadLength(FramingError):
    pass


class _BadCrc(FramingError):
    pass


def check_frame(raw: bytes) -> Frame:
    """A raw (unstuffed) frame checked: its size, its CRC, then its length field."""
    if len(raw) < HEADER.size + CRC.size or len(raw) > MAX_FRAME:
        raise _BadLength(f"frame of {len(raw)} bytes")
    (crc,) = CRC.unpack_from(raw, len(raw) - CRC.size)
    if crc16(raw[: -CRC.size]) != crc:
        raise _BadCrc("CRC mismatch")
    version, msg_type, seq, length = HEADER.unpack_from(raw)
    if length != len(raw) - HEADER.size - CRC.size:
        raise _BadLength(f"length field {length}, payload {len(raw) - HEADER.size - CRC.size}")
    return Frame(msg_type, seq, raw[HEADER.size : -CRC.size], version)
