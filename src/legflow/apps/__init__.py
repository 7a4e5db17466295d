"""What the apps share: the place where a session's world is built and wired.

`launch` checks a program for a device and a user and wires a massager (simulated, or the one at a
serial port) under the supervisor, the leg twin and the history to a session, for the CLI and the
dashboard, which get the supervisor and the session, never the massager; `warmup` rehearses a
session so that nothing compiles while one runs; `faultmatrix` builds simulated sessions with one
injected fault each, for the tests and the benchmarks that prove the supervisor.
"""
