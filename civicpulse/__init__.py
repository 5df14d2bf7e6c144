"""CivicPulse command line and local services (Kafka broker management)."""
