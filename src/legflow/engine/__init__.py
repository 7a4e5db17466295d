"""Engine: the pressure and heater controllers, adaptive rest, the session runner and its launch."""
