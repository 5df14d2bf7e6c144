"""CivicPulse stream worker: Faust and aiokafka shells around the pure `streams.core`."""
