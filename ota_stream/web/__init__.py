"""HTTP views on Faust's web server: ingest, analytics, health."""
