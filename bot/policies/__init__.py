"""Safety policies around the gate: change freezes and maintenance windows, blast-radius caps,
circuit breakers and per-rule autonomy levels. Each is a small module; `bot.engine.policy_gate`
combines their verdicts for the engine."""
