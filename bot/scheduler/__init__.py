"""The in-process scheduler: one active instance across replicas, guarded by a stored lease."""
