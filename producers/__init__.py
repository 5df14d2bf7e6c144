"""Event producers: replay of event logs, the synthetic generator and the live demo feed."""
