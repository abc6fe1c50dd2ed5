"""Rollout guards: a health gate per app that the workers evaluate on their own, deciding once per (guard, version)
to pause, roll back or notify, and posting that decision as a signed webhook. docs/decisions.md#rollout-guards.

rules (what the admin API accepts; the guards topic), engine (evaluation), decisions (the decision's body and its
state, kept in a changelogged table like alert state, delivered by alerts/delivery.py)."""
