"""CivicPulse stream worker: a thin Faust shell around the pure aggregation core in `streams.core`."""
