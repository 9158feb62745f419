"""Two KDEF-like photo sessions (A, B) with different light, colour, background and scale.

A person's look in a session is drawn from that session's distribution with an rng seeded
by (seed, person, session), so the same person looks the same in every image of a session
and different between sessions: probes from session B against a session-A gallery test
recognition across conditions, not just across poses of one texture.
"""

from __future__ import annotations

import numpy as np

from lib.data.engine.render import Look
from lib.seeding import numpy_rng

SESSIONS = ("A", "B")
# Per session: light azimuth (deg, + = from the subject's left = image right), colour gain
# centre, background tint, scale centre.
_SESSION = {
    "A": dict(azimuth=-40.0, gain=(1.06, 1.0, 0.92), tint=(70.0, 90.0, 140.0), scale=1.0),
    "B": dict(azimuth=40.0, gain=(0.92, 1.0, 1.08), tint=(120.0, 130.0, 90.0), scale=0.94),
}


def session_look(seed: int, person: int, session: str) -> Look:
    """The look of ``person`` in ``session``."""
    return draw_look(numpy_rng(seed, "look", person, session), session)


def draw_look(rng: np.random.Generator, session: str) -> Look:
    """One look from ``session``'s distribution, drawn with ``rng`` (six draws, always in this order).
    The training corpora (lib.data.engine.corpora) draw a fresh look for every image."""
    if session not in _SESSION:
        raise ValueError(f"unknown session {session!r}; choose from {SESSIONS}")
    s = _SESSION[session]
    az = np.radians(s["azimuth"] + rng.uniform(-15, 15))
    el = np.radians(rng.uniform(-25, 5))  # mostly from above
    light = (np.sin(az) * np.cos(el), np.sin(el), -np.cos(az) * np.cos(el))
    gain = tuple(float(g * rng.uniform(0.95, 1.05)) for g in s["gain"])
    tint = tuple(float(c + rng.uniform(-25, 25)) for c in s["tint"])
    return Look(light=tuple(map(float, light)), light_strength=float(rng.uniform(0.3, 0.5)), gain=gain,
                background_tint=tint, tint_strength=float(rng.uniform(0.2, 0.4)),
                scale=float(s["scale"] * rng.uniform(0.97, 1.03)))
