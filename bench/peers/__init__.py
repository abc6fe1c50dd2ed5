"""Peers for bench/pipeline_peers.py: other programs doing the sink's job, into the same schema."""
