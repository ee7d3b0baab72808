"""Room devices over MQTT: the bus, the broker the demo and tests start, drivers and scenes."""
