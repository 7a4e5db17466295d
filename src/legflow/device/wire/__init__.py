"""The legflow wire protocol (docs/protocol.md): framing, messages, the serial driver and the
device emulator. The driver and emulator are imported from their modules, so that the protocol
itself needs neither pyserial nor the simulator."""

from legflow.device.wire.framing import PROTOCOL_VERSION, FrameParser, LinkCounters

__all__ = ["PROTOCOL_VERSION", "FrameParser", "LinkCounters"]
